"""Ticket mail: what is owed to attendees (outbox), the worker task that sends it (relay),
where finished mail goes (delivery: SMTP or the mailbox folder), and the message itself
(ticket_mail)."""

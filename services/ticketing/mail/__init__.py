"""Ticket mail: what is owed to attendees (outbox), the worker task that sends it (relay)
and the message itself (ticket_mail); where finished mail goes is shared/mail/delivery.py."""

"""Ticket mail: ticketing's side of the shared mail outbox (outbox: a ticket's mail queued
and erased), its mail relay with the ticket mail's renderer (relay) and the message itself
(ticket_mail). The outbox's rules, the relay and delivery are shared/mail's."""

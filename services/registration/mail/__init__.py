"""Registration's mail: its side of the shared mail outbox (outbox: an invitation's mail
queued), its mail relay with the invitation mail's renderer (relay) and the message itself
(invitation_mail). The outbox's rules, the relay and delivery are shared/mail's."""

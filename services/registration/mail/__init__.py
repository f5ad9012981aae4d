"""Registration's mail: its side of the shared mail outbox (outbox: an invitation's, a
password reset's or an attendee's status mail queued with its change), which status change
owes which mail (status_mails), its mail relay with each kind's renderer (relay), and the
messages themselves (invitation_mail, password_reset_mail, attendee_mail, all made by
link_mail), with the attendee's manage link (manage_links). The outbox's rules, the relay
and delivery are shared/mail's."""

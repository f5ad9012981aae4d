"""Mail, the same for every service: what is owed (outbox), the worker task that sends it
(relay) and where finished mail goes (delivery: SMTP or the mailbox folder). Each service
keeps its own mail outbox table in its own database and renders its own kinds of mail."""

"""The mailer service: the mail queue, whose jobs it renders and delivers, and the delivery log."""

"""What counts as a mail address, for every service: the doors (sign-in,
invitations) refuse what the mailer would refuse, so no accepted request ends
in a mail that is silently dropped. No Falcon here."""

import re

MAX_ADDRESS_CHARS = 254  # RFC 5321's path limit, less the angle brackets

# A plain ASCII dot-atom local part (no leading, trailing or doubled dot) of at
# most 64 characters, at a host name of at least two labels. Anything fancier
# (quoted local parts, non-ASCII, address literals) is refused rather than half-handled.
_ADDRESS = re.compile(
    r"(?!\.)(?!.*\.\.)[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}(?<!\.)"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)


def is_mail_address(address: str) -> bool:
    """Whether a mail may be sent to this address (in any letter case)."""
    return len(address) <= MAX_ADDRESS_CHARS and _ADDRESS.fullmatch(address) is not None

"""How many invitation mails may go out, counted in Redis so that every
instance of the service counts together. No Falcon here."""

import redis

from cotoami_common.ratelimit import RateLimiter
from cotonomas.config import InvitationLimits, Limit


class TooManyInvitations(Exception):
    """An invitation mail would exceed the limit `by` names (recipient, inviter
    or cotonoma), which lifts in `retry_after` seconds."""

    def __init__(self, by: str, retry_after: int):
        super().__init__(by)
        self.by = by
        self.retry_after = retry_after


class InvitationBudget:
    def __init__(self, client: redis.Redis, limits: InvitationLimits):
        self.client = client
        self.limits = limits

    def _hit(self, by: str, who: str, limit: Limit) -> None:
        # A limiter per limit: each has a window of its own.
        wait = RateLimiter(self.client, limit.window_seconds).hit(f"invitations:{by}:{who}", limit.count)
        if wait is not None:
            raise TooManyInvitations(by, wait)

    def spend(self, inviter_id: str, cotonoma_key: str, email: str) -> None:
        """Count one mail against each limit, or raise TooManyInvitations at the first
        it exceeds, counting it against no later one. The inviter's own budgets come
        first, so that an inviter refused spends nothing of the recipient's."""
        self._hit("inviter", inviter_id, self.limits.per_inviter)
        self._hit("cotonoma", cotonoma_key, self.limits.per_cotonoma)
        self._hit("recipient", email, self.limits.per_recipient)

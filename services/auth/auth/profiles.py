"""What an address looks like to others: a Gravatar avatar and a display name."""

import hashlib
import logging

import redis
import requests

from cotoami_common.text import is_clean_text

log = logging.getLogger(__name__)

NAME_CACHE_SECONDS = 86400


def email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


class Profiles:
    """Avatar URLs always; display names from the Gravatar profile API only when
    configured (it calls an outside host), with a short timeout, cached in Redis,
    falling back to the address's local part."""

    def __init__(self, avatar_url: str, profile_url: str | None, timeout_seconds: float, cache: redis.Redis):
        self.avatar_url = avatar_url
        self.profile_url = profile_url
        self.timeout_seconds = timeout_seconds
        self.cache = cache

    def avatar(self, email: str) -> str:
        return f"{self.avatar_url}{email_hash(email)}?d=identicon&s=160"

    def display_name(self, email: str) -> str | None:
        """A name from the profile service, or None to keep the default."""
        if self.profile_url is None:
            return None
        key = f"gravatar:name:{email_hash(email)}"
        cached = self.cache.get(key)
        if isinstance(cached, str):  # the client decodes responses: a hit is str, a miss None
            return cached or None
        name = self._fetch_name(email)
        self.cache.set(key, name or "", ex=NAME_CACHE_SECONDS)  # "" remembers "no name" too
        return name

    def _fetch_name(self, email: str) -> str | None:
        try:
            response = requests.get(f"{self.profile_url}{email_hash(email)}", timeout=self.timeout_seconds)
            if response.status_code != 200:
                return None
            name = response.json().get("display_name")
        except (requests.RequestException, ValueError, AttributeError) as error:
            log.info("no Gravatar profile name: %s", error)
            return None
        if not isinstance(name, str) or not name.strip() or not is_clean_text(name, one_line=True):
            return None  # not a name we can show: the default stands
        return name.strip()[:100]

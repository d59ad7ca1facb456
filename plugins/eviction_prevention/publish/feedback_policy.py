"""What each partner kind may receive back about its cases (``config/feedback.yaml``).

The one place that decides whose references a feedback file may hold: a partner's own, always under the
purpose its kind lists; a corporation's contract number in a social team's file only under the purpose of
``reporting_corporation`` (a reported tenant without a social-team case yet, so the team can ask the
corporation). ``identity_vault.reidentify`` refuses anything else.
"""

from __future__ import annotations

from functools import lru_cache

from eviction_prevention import settings
from eviction_prevention.partners import get_partner

POLICY_FILE = settings.CONFIG_DIR / "feedback.yaml"


@lru_cache(maxsize=1)
def policy() -> dict[str, dict]:
    return settings.read_yaml(POLICY_FILE)["recipients"]


def purposes(kind: str) -> dict[str, str]:
    """Whose references a partner of ``kind`` may receive (``own``, ``reporting_corporation``) -> purpose."""
    return dict(policy()[kind].get("references") or {})


def may_receive(recipient: str, owner: str, purpose: str) -> bool:
    """Whether ``recipient``'s feedback may hold ``owner``'s references, unsealed for ``purpose``."""
    try:
        to, of = get_partner(recipient), get_partner(owner)
    except KeyError:
        return False
    allowed = purposes(to.kind)
    if recipient == owner:
        return allowed.get("own") == purpose
    return of.kind == "corporation" and to.kind == "social_team" and allowed.get("reporting_corporation") == purpose

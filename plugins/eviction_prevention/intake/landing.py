"""The landing folder: original bytes kept for the partner's retention period, then deleted."""

from __future__ import annotations

import logging
import shutil
import time

from eviction_prevention import settings
from eviction_prevention.partners import Partner

log = logging.getLogger(__name__)


def discard_landing_tmp(partner: str) -> None:
    shutil.rmtree(settings.landing_dir() / partner / "tmp", ignore_errors=True)


def purge_landing(partner: Partner, now: float | None = None) -> int:
    """Delete landed originals older than the partner's retention period; returns how many were deleted."""
    folder = settings.landing_dir() / partner.code
    if not folder.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - partner.landing_retention_days * 86400
    expired = [p for p in folder.iterdir() if p.is_file() and p.stat().st_mtime < cutoff]
    for path in expired:
        path.unlink()
    if expired:
        log.info(
            "partner %s: %d landed file(s) past %d days deleted",
            partner.code,
            len(expired),
            partner.landing_retention_days,
        )
    return len(expired)

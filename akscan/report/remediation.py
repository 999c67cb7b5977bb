"""What to do about a leaked credential, in order, after Alibaba Cloud's AccessKey guide.

The guide (docs: "Protect AccessKeys", "Rotate regularly", "Solutions for AccessKey leakage"):
disable the key, rotate it, check what it was used for, take it out of the code and history, and
stop storing long-term keys (ECS instance RAM roles, STS tokens at run time, a credentials file
only its user can read). Steps for one credential depend on what validation said about it.
"""

from __future__ import annotations

from akscan.model import INACTIVE, INVALID, LIVE
from akscan.report.credentials import PERMANENT, TEMPORARY, Credential

FINDINGS_FILE = "akscan-findings.json"

# Once per kind of credential, for reports that list many (the text report's closing section).
GENERAL = {
    PERMANENT: (
        "Disable the AccessKey in the RAM console (delete it if nothing needs it).",
        "Rotate: create a new AccessKey, roll it out, then delete the old one (Alibaba: every "
        "90 days anyway).",
        "Check ActionTrail for calls made with the key since it leaked: "
        f"akscan trail EVENTS... --findings {FINDINGS_FILE} (this scan as --format json).",
        "Remove it from the code and purge it from git history (git filter-repo "
        "--replace-text), then force-push; old clones and forks keep it, so disabling is what "
        "protects you.",
        "Stop storing keys: an ECS instance RAM role (metadata in security-hardening mode), STS "
        "tokens requested at run time, or ~/.alibabacloud/credentials readable only by its "
        "user; one AccessKey per person and application, least privilege.",
    ),
    TEMPORARY: (
        "If the token may still be valid, revoke the role's active sessions in the RAM console.",
        "Check ActionTrail for calls made as the role since the leak: "
        f"akscan trail EVENTS... --findings {FINDINGS_FILE}.",
        "Remove it from the code and purge it from git history, then force-push.",
        "Never store STS credentials: request them at run time (AssumeRole, or an ECS instance "
        "RAM role).",
    ),
}


def steps(credential: Credential) -> list[tuple[str, str]]:
    """The ordered steps for one credential as (what to do, command to run or ''), the first
    step fitted to its status and the ActionTrail step to its key and date."""
    general = list(GENERAL[credential.family])
    general[0] = _first_step(credential) or general[0]
    tip = credential.tip_summary()
    if tip.startswith("not at "):
        general = ["It is gone from the tip but not from the history, nor from any clone or "
                   "fork: purge it from git history (git filter-repo --replace-text), then "
                   "force-push." if "purge" in step else step for step in general]
    return [trail_step(credential) if "akscan trail" in step else (step, "")
            for step in general]


def _first_step(credential: Credential) -> str | None:
    if credential.family == TEMPORARY:
        if credential.status == INVALID:
            return "The token no longer works (expired or revoked): nothing to revoke."
        return None
    v = credential.validation
    who = f" of {v.user_name}" if v and v.user_name else ""
    if credential.status == LIVE:
        if v and "root-account-key" in v.flags:
            return ("Disable it now: it is the account's root AccessKey, with every permission. "
                    "Then create RAM users for what used it.")
        return f"Disable this AccessKey{who} now in the RAM console: it works."
    if credential.status == INACTIVE:
        return "Already disabled: delete it in the RAM console once nothing needs it."
    if credential.status == INVALID:
        return ("Alibaba Cloud does not accept it (no such key, or not this secret): confirm in "
                "the RAM console that no AccessKey with this ID remains; nothing to disable.")
    return None


def trail_step(credential: Credential) -> tuple[str, str]:
    """The ActionTrail step for this credential, with the date it leaked when known."""
    since = credential.introduced
    when = dict(since.origin).get("date", "")[:10] if since else ""
    period = f"since {when}, when it was committed" if when else "since it was written there"
    lead = credential.lead
    return (f"Check ActionTrail for calls made with {lead.redacted} {period}: export the "
            "trail's events of that period, write this scan as JSON (--format json -o "
            f"{FINDINGS_FILE}) and run the command below; the key is matched by its sha256 "
            f"({lead.secret_sha256[:12]}…), never by the key itself.",
            f"akscan trail EVENTS... --findings {FINDINGS_FILE}")

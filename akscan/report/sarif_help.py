"""The help shown with a code scanning alert: what was found, what it allows, what to do.

Written per credential kind, so user rules of a known kind get the same guidance. The steps follow
Alibaba Cloud's AccessKey advice, which the built-in rules' one-line remediations summarise.
"""

from __future__ import annotations

from dataclasses import dataclass

from akscan.model import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    STS_ACCESS_KEY_ID,
    STS_ACCESS_KEY_SECRET,
    STS_SECURITY_TOKEN,
)


@dataclass(frozen=True)
class Help:
    what: str
    impact: str
    steps: tuple[str, ...]

    def text(self, remediation: str) -> str:
        steps = "\n".join(f"{n}. {step}" for n, step in enumerate(self.steps, 1))
        return (f"{self.what}\n\nWhat an attacker can do: {self.impact}\n\n"
                f"What to do: {remediation}\n\n{steps}\n")

    def markdown(self, remediation: str) -> str:
        steps = "\n".join(f"{n}. {step}" for n, step in enumerate(self.steps, 1))
        return (f"{self.what}\n\n## What an attacker can do\n\n{self.impact}\n\n"
                f"## What to do\n\n{remediation}\n\n{steps}\n")


_PERMANENT_IMPACT = (
    "With the AccessKey ID and its secret, anyone can call every Alibaba Cloud API the key's "
    "owner may call: read, copy or delete data in OSS buckets and databases, start instances "
    "on your bill (often for crypto mining), create RAM users and keys to keep "
    "access after this one is disabled, and delete infrastructure. Keys pushed to public "
    "repositories are harvested by automated scanners soon after they appear."
)
_TEMPORARY_IMPACT = (
    "Until they expire, anyone holding the STS AccessKey ID, secret and SecurityToken can do "
    "whatever the assumed role's policies allow: read or delete data, run up costs, and use any "
    "RAM permissions the role has to create longer-lived access."
)
_PERMANENT_STEPS = (
    "Disable the AccessKey in the RAM console (or with the RAM API) and create a new one for "
    "the code that needs it; check ActionTrail for calls made with the old key; delete it once "
    "nothing uses it.",
    "Remove it from the code and purge it from git history (for example with git filter-repo), "
    "then have every clone re-fetched. Purging does not un-leak a key: rotate it first.",
    "Load credentials at run time instead: from the environment (ALIBABA_CLOUD_ACCESS_KEY_ID, "
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET) or a credentials file outside the repository "
    "(~/.alibabacloud/credentials), which the Alibaba Cloud SDKs' default credential chain reads.",
    "On ECS, attach an instance RAM role and let the SDK fetch temporary credentials from the "
    "instance metadata service, with metadata access in security-hardening mode (token "
    "required), so that no key is stored anywhere.",
)
_TEMPORARY_STEPS = (
    "If the credentials may still be valid, cut the role's access until they expire (narrow or "
    "detach its policies) and check ActionTrail for calls made with them.",
    "Remove them from the code and purge them from git history (for example with git "
    "filter-repo); find where they were copied from (a log, a debug dump) and stop it.",
    "Never store STS credentials: request them at run time (AssumeRole from credentials in the "
    "environment or a credentials file), or on ECS use an instance RAM role with metadata in "
    "security-hardening mode.",
)

HELP = {
    ACCESS_KEY_ID: Help(
        "An Alibaba Cloud AccessKey ID (LTAI…) names a long-lived AccessKey of a RAM user or of "
        "the root account. It cannot sign requests alone, but it is half of the credential and "
        "its secret is often stored next to it, in the same file or the same history.",
        _PERMANENT_IMPACT, _PERMANENT_STEPS),
    ACCESS_KEY_SECRET: Help(
        "An Alibaba Cloud AccessKey secret signs API requests. With its AccessKey ID, which is "
        "rarely secret (it appears in logs, configuration and often the same file), it is the "
        "whole long-lived credential of a RAM user or of the root account.",
        _PERMANENT_IMPACT, _PERMANENT_STEPS),
    STS_ACCESS_KEY_ID: Help(
        "An STS AccessKey ID (STS.…) is part of temporary credentials that Security Token "
        "Service issues when a role is assumed; with its secret and SecurityToken it acts as "
        "that role until it expires.",
        _TEMPORARY_IMPACT, _TEMPORARY_STEPS),
    STS_ACCESS_KEY_SECRET: Help(
        "An STS AccessKey secret signs requests made with temporary credentials of an assumed "
        "role; with its STS AccessKey ID and SecurityToken it acts as that role until it expires.",
        _TEMPORARY_IMPACT, _TEMPORARY_STEPS),
    STS_SECURITY_TOKEN: Help(
        "An STS SecurityToken (CAIS…) is the session token of temporary credentials of an assumed "
        "role; with the STS AccessKey ID and secret it acts as that role until it expires.",
        _TEMPORARY_IMPACT, _TEMPORARY_STEPS),
}

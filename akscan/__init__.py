"""akscan: find leaked Alibaba Cloud credentials before attackers do."""

__version__ = "0.1.0"

"""The right way: credentials come from the environment or an ECS instance RAM role."""
import os

ACCESS_KEY_ID = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID")
ACCESS_KEY_SECRET = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
DOCS_SAMPLE_ID = "LTAI****************"  # a placeholder from the docs: not a finding

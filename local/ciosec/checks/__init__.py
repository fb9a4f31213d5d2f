"""Checks the Makefile runs in CI: ``python -m ciosec.checks.sam_build .aws-sam/build`` (prune
and verify ``sam build``'s output) and ``python -m ciosec.checks.secrets_baseline`` (no secret
outside ``.secrets.baseline``)."""

"""Synthetic exports of a fictional Chinese B2B company in the canonical landing format
(../shared/spec/exports.md), deterministic per seed, with an optional dirty mode whose bad inputs
are listed in `_manifest.json`. `salesdw generate` calls `generate`."""

from demo.api import GenerateReport, generate
from demo.exports import MANIFEST_NAME
from demo.next_day import generate_next_day

__all__ = ["MANIFEST_NAME", "GenerateReport", "generate", "generate_next_day"]

"""Evidence bundles: incremental recording on disk, evidence.json, summary.md, report.html,
junit.xml and the sha256 manifest; reading bundles back and comparing two runs."""

from __future__ import annotations

from chaos.report.bundle import BundleWriter, bundle_dir_name
from chaos.report.compare import Comparison, compare_evidence
from chaos.report.evidence import Evidence, evidence_meta, safe_verdict
from chaos.report.manifest import (
    ManifestCheck,
    ManifestError,
    check_manifest,
    verify_manifest,
    write_manifest,
)
from chaos.report.reader import RawBundle, is_finalised, read_evidence, read_raw
from chaos.report.redact import redact
from chaos.report.render import rewrite_junit, write_final_files

__all__ = [
    "BundleWriter",
    "Comparison",
    "Evidence",
    "ManifestCheck",
    "ManifestError",
    "RawBundle",
    "bundle_dir_name",
    "check_manifest",
    "compare_evidence",
    "evidence_meta",
    "is_finalised",
    "read_evidence",
    "read_raw",
    "redact",
    "rewrite_junit",
    "safe_verdict",
    "verify_manifest",
    "write_final_files",
    "write_manifest",
]

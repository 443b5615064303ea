"""Suite-wide rules: the NDIS verifier is on, and under CI=true nothing may skip."""

from __future__ import annotations

import os

import pytest

from nicemu.host import Host, HostConfig

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skip under CI=true is a missing prerequisite, which is a failure there."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped under CI=true, which fails the run: {reason}"


@pytest.fixture
def host() -> Host:
    """A host with the NDIS verifier on, as every test runs it."""
    return Host(HostConfig(), verifier=True)

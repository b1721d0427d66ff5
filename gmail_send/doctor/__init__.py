"""`gmail-send doctor` as a library: checks that explain why sending through Gmail fails.

Each check returns a `CheckResult` (passed / failed / skipped, the finding, a concrete fix);
`run_doctor` runs them in order and skips, rather than fails, the checks whose prerequisite
failed. Nothing here prints: the CLI (or an application's health endpoint) renders the report.

    report = await run_doctor(Target("smtp.gmail.com", 587, "starttls"), credentials,
                              domain="example.com")
    for check in report.checks:
        print(check.status, check.title, check.finding)
"""

from ._report import CheckResult, DoctorReport, Status, Target, configuration_check
from ._run import run_doctor

__all__ = ["CheckResult", "DoctorReport", "Status", "Target", "configuration_check", "run_doctor"]

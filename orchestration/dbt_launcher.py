#!/usr/bin/env python3
"""dbt, tied to the life of the salesdw run that starts it (the dbt resource's `dbt_executable`).

dagster-dbt runs dbt as a child process. When the run dies without cleaning up (SIGKILL, the OOM
killer), an orphaned dbt would go on writing the build warehouse underneath the next run. On Linux
this launcher asks the kernel to SIGKILL dbt as soon as its parent dies, then becomes dbt (exec:
same process). Standard library only; the real dbt comes from SALESDW_DBT_EXECUTABLE.
"""

import ctypes
import os
import shutil
import signal
import sys

LAUNCHER = os.path.abspath(__file__)
DBT_EXECUTABLE_ENV = "SALESDW_DBT_EXECUTABLE"
PARENT_PID_ENV = "SALESDW_DBT_PARENT_PID"
DBT_CWD_ENV = "SALESDW_DBT_CWD"  # when set, dbt runs in this folder (relative profile paths start here)
_PR_SET_PDEATHSIG = 1


def launch_env() -> dict[str, str]:
    """What the launcher needs from the process that starts it: the real dbt, and who its parent is."""
    return {DBT_EXECUTABLE_ENV: os.path.join(os.path.dirname(sys.executable), "dbt"), PARENT_PID_ENV: str(os.getpid())}


def main() -> None:
    dbt = os.environ.get(DBT_EXECUTABLE_ENV) or shutil.which("dbt")
    if not dbt:
        sys.exit(f"{DBT_EXECUTABLE_ENV} is not set and no dbt is on PATH")
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        parent = os.environ.get(PARENT_PID_ENV)
        if parent and os.getppid() != int(parent):
            sys.exit(1)  # the run died before the line above could tie us to it
    if os.environ.get(DBT_CWD_ENV):
        os.chdir(os.environ[DBT_CWD_ENV])  # dagster-dbt passes the project as DBT_PROJECT_DIR
    os.execv(dbt, [dbt, *sys.argv[1:]])


if __name__ == "__main__":
    main()

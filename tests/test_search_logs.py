"""Optuna's warnings during a search reach ``search.log``, never the terminal (issue 22, "what users expect").

Optuna installs a stderr handler on the ``optuna`` logger when it is first imported, and a search imports
it lazily, inside ``nas.driver.logs.run_log``; the sampler is built there by the driver. A fresh interpreter
(nothing imported yet) reproduces what ``nas search`` does, without the minute a real search costs.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

DRIVER = textwrap.dedent("""
    import sys
    assert "optuna" not in sys.modules  # as in a search that imports Optuna only once it runs
    from nas.driver.logs import quiet_libraries, run_log
    from nas.storage import Location

    with run_log(Location.from_uri(sys.argv[1]), "search.log"):
        quiet_libraries()
        import optuna
        from nas.search.samplers import make_sampler

        make_sampler("qmc", 0)  # ExperimentalWarning, emitted by the driver
        # what GPSampler logs without greenlet, through Optuna's own logger
        optuna.logging.get_logger("optuna.samplers._gp.sampler").warning("greenlet probe: unavailable")
    print("search done")
""")


def test_optuna_sampler_warnings_go_to_the_run_log_not_stderr(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0", "PYTHONWARNINGS": "default"}
    done = subprocess.run([sys.executable, "-c", DRIVER, str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "search done"
    assert "ExperimentalWarning" not in done.stderr and "greenlet probe" not in done.stderr, done.stderr
    log = (tmp_path / "search.log").read_text()
    assert "ExperimentalWarning: QMCSampler is experimental" in log
    assert "WARNING optuna.samplers._gp.sampler: greenlet probe: unavailable" in log

"""Leaderboards over search runs: which schemes and which coefficients work (pandas only, no torch).

A run folder (``results/<name>/``, written by ``nas.search``) holds ``trials.csv`` with one row per trial
(scheme family, one ``coef_*`` column per coefficient, noise schedule, architecture, status, metrics,
scheme diagnostics) and ``trials/<trial_id>/`` with the trial's ``spec.json`` and best weights.

``load(runs)`` reads one or many runs into one DataFrame and adds, per row:

- ``run_dir``    absolute path of the run folder (trial folders are relative to it);
- ``finished``   status is ``completed`` or ``stopped`` (ASHA): the trial has best-validation weights;
- ``vs_resnet``  ``best_val_acc`` minus that of the plain ResNet baseline of the same run (``euler``,
                 ``baseline=True``, no noise) that ran the full budget (status ``completed``): > 0 reads
                 "better than ResNet"; empty when the run has no such trial.

Rows with status ``duplicate`` (``duplicate_of``: a trial that was not trained again because an earlier trial
of the run trained the same network with the same configuration and seed) carry another trial's result:
``without_duplicates`` leaves them out of every view and counts them.

The rest are views of that frame: ``family_summary``, ``pareto_front``, ``coefficient_correlations``
(Spearman and Pearson), ``coefficient_bins``, ``learned_coefficients`` (read from the weights with
``safetensors``' numpy backend, so this package never imports torch) and ``write_plots``.

One module per concern:

- ``loading``       run folders (local or in storage), ``search.json``, ``trials.csv`` into one frame;
- ``analysis``      views of the frame: duplicates, finished trials, filters and order, seeds, family summary,
                    Pareto front, the final evaluation;
- ``coefficients``  coefficient correlations and bins, learned coefficients read from the weights;
- ``learned``       the order, error constant and stability interval of the scheme a trial learned
                    (``learned_scheme``), added as ``learned_*`` columns by ``load``;
- ``tables``        the printed view and the table formats (table, csv, markdown, parquet);
- ``plots``         the PNG plots (matplotlib, imported only when drawing).
"""
from __future__ import annotations

from ..vocabulary import LOWER_IS_BETTER, STATUSES, pareto_mask
from .analysis import (EVALUATION_FILE, aggregate_seeds, budget_label, check_columns,
                       check_runs_have_finished_trials, descending, evaluation_view, family_summary, filter_family,
                       finished_trials, one_row_per_architecture, paired_with_resnet, pareto_front, parse_objectives,
                       raced_order, sort_trials, without_duplicates)
from .coefficients import (coefficient_bins, coefficient_columns, coefficient_correlations, learned_coefficients,
                           read_learned_coefficients)
from .loading import (DEFAULT_RESULTS_ROOT, FINISHED_STATUSES, METRIC, NUMERIC_COLUMNS, RESNET_SCHEME, load,
                      read_search_config, resnet_reference, resolve_run, trial_folder)
from .plots import plot_coefficients, plot_learned, plot_pareto, plot_stability, write_plots
from .tables import FORMATS, TABLE_COLUMNS, VIEWS, display_frame, render, write_table

__all__ = ["load", "resolve_run", "read_search_config", "finished_trials", "without_duplicates", "aggregate_seeds",
           "paired_with_resnet", "raced_order", "one_row_per_architecture",
           "check_runs_have_finished_trials", "budget_label", "filter_family", "sort_trials", "family_summary",
           "pareto_front", "pareto_mask", "parse_objectives",
           "coefficient_columns", "coefficient_correlations", "coefficient_bins", "learned_coefficients",
           "read_learned_coefficients", "render", "write_table", "display_frame", "plot_coefficients",
           "plot_pareto", "plot_learned", "plot_stability", "write_plots", "FINISHED_STATUSES", "STATUSES",
           "LOWER_IS_BETTER", "METRIC", "TABLE_COLUMNS", "FORMATS", "VIEWS",
           "check_columns", "descending", "evaluation_view", "resnet_reference", "trial_folder",
           "DEFAULT_RESULTS_ROOT", "RESNET_SCHEME", "NUMERIC_COLUMNS", "EVALUATION_FILE"]

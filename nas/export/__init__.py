"""Export the best trials of a search as standard PyTorch models, each with a diagnostics card.

For every chosen trial (ranked by ``best_val_acc`` among finished trials), from its best-validation weights:

- ``model.pt2``           a ``torch.export`` program in eval mode with a dynamic batch dimension; it loads
                          with ``torch.export.load(path).module()`` in a process without ``nas`` installed;
- ``weights.safetensors`` the state dict, and ``spec.json`` the ``NetworkSpec``: ``nas.load(folder)``
                          rebuilds the trainable ``nn.Module`` (nanoGPT's "config beside the weights");
- ``card.json``/``card.md`` the scheme with every coefficient (learned per-step values included), its
                          diagnostics and modified equation, the noise schedule, the metrics (validation from
                          the search, test accuracy computed once here: the search never touches the test
                          split), params, FLOPs, the data set and the search it came from;
- ``stability.png``       the scheme's region of absolute stability (one region per learned step for a
                          learned LM-ResNet; none for families without a linear stability region);
- ``coefficients.png``    learned coefficients against depth (learned LM-ResNet).

Layout: ``export_run`` (``--top``, ``--trial``), ``export_evaluated`` (``--evaluated``) and ``nas train --out``
write one layout (``write_export``): ``OUT/index.json`` (ranked list, with the ranking rule) and one folder
``OUT/<trial_id>/`` per model; ``export_trial`` writes one model folder. ``--top`` ranks as ``nas leaderboard``
does (``nas.fidelity.leaderboard_ranking``: equal budget, one row per architecture, baselines among them). Both build everything in a temporary folder beside the
target and rename it into place (``nas.atomic``), so an interrupted export leaves no half-written folder.
Every input is checked before anything is written: ``read_model`` reads a trial or export folder without
running code (JSON and safetensors only, ``nas.safe_load``), never leaves the folder it was given
(``nas.paths.contained``), and checks the weights against the spec and the spec against the budgets on
torch's meta device before anything is built.

One module per concern:

- ``selection``  which models to export (the best trials, one trial, an evaluated architecture) and the run's
                 data set, read and checked before anything is written;
- ``program``    the ``torch.export`` program, checked against the eager model;
- ``card``       the card's content (scheme, diagnostics, noise, metrics, evaluation, provenance), JSON-ready;
- ``plots``      the card's figures (stability regions, learned coefficients);
- ``markdown``   the card as Markdown;
- ``folders``    the model folders and ``index.json``, written atomically;
- ``loading``    reading a model folder back (``read_model``, ``nas.load``).
"""
from __future__ import annotations

from .card import FORMAT
from .folders import MODEL_FILES, export_evaluated, export_run, export_trial, write_export, write_model_folder
from .loading import load, read_model
from .program import random_ops
from .selection import dataset_options, select_evaluated, select_trials

__all__ = ["export_run", "export_trial", "export_evaluated", "write_export", "write_model_folder", "select_evaluated", "load", "read_model",
           "select_trials", "dataset_options", "random_ops", "FORMAT", "MODEL_FILES"]

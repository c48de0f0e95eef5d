"""Learning curves from TensorBoard run directories of ppo_trxl.py / ppo_gru.py into a PNG.

    python plot.py --runs "TrXL=runs/A,runs/B,runs/C" --runs "GRU=runs/D,runs/E" --output curves.png --reference
    python plot.py runs/MortarMayhem-Grid-v0__* --group exp --output mmgrid.png --reference

Each group of runs (the seeds of one setting) becomes one curve: every run's scalar (default
``charts/episodic_return``, one point per finished episode) is averaged in ``--bins`` equal bins
of the global step, carried forward through bins without an episode, then the runs' mean is drawn
with their spread (``--spread minmax``: min to max over the runs; ``std``: mean +- one standard
deviation). ``--reference`` draws the published final returns for the runs' env as horizontal
lines: CleanRL's PPO-TrXL results (https://docs.cleanrl.dev/rl-algorithms/ppo-trxl/) and the
final returns in the paper's published evaluation data (Pleines et al., JMLR 2025, arXiv
2309.17207; https://github.com/MarcoMeter/jmlr_2024.github.io, evaluation/results/); see
``REFERENCE`` below and docs/provenance.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from collections import defaultdict

import numpy as np

# Published final episodic returns (env id -> [(label, return)]); docs/provenance.md lists each one.
# "CleanRL ...": the "Experiment results" table of CleanRL's PPO-TrXL docs (3 seeds, final episodic
#   return), https://docs.cleanrl.dev/rl-algorithms/ppo-trxl/.
# "paper ...": the paper's published evaluation data, https://github.com/MarcoMeter/jmlr_2024.github.io,
#   evaluation/results/<task>/<run>/novel_*.res (5 training runs; each checkpoint evaluated on 50
#   unseen seeds x 3). Our recomputation from those files: the mean over the 5 runs of the mean
#   return at the last checkpoint; the paper itself may report other statistics. "+rec": with
#   observation reconstruction. Tasks: mm_grid, mm_act_grid (MortarMayhemB-Grid-v0), mm10
#   (MortarMayhem-v0; its trxl_rec run has only train_*.res), mp_grid_off (MysteryPath-Grid-v0,
#   origin and goal hidden, the default), mp_off_dense (MysteryPath-v0), ss, and the endless emm,
#   emp, ess at their last checkpoint (819M steps).
# ProofofMemory-v0 is in neither: its line is the best possible mean return under the rules of
#   CleanRL's cleanrl/ppo_trxl/pom_env.py (walk straight to the remembered goal: 1.6 - 0.1 x (5 - 1)).
REFERENCE = {
    "ProofofMemory-v0": [("best possible mean", 1.20)],
    "MortarMayhem-Grid-v0": [("CleanRL TrXL", 0.99), ("paper GRU", 1.00), ("paper TrXL", 1.00)],
    "MortarMayhemB-Grid-v0": [("paper GRU", 1.00), ("paper TrXL", 1.00)],
    "MortarMayhem-v0": [("CleanRL TrXL+rec", 0.99), ("paper GRU", 0.54), ("paper GRU+rec", 0.48),
                        ("paper TrXL", 0.25), ("paper TrXL+rec", 1.00)],
    "Endless-MortarMayhem-v0": [("CleanRL TrXL", 1.50), ("paper GRU", 10.68), ("paper TrXL", 1.62)],
    "MysteryPath-Grid-v0": [("CleanRL TrXL", 0.97), ("paper GRU", 0.69), ("paper TrXL", 0.99)],
    "MysteryPath-v0": [("CleanRL TrXL", 1.67), ("paper GRU", 1.71), ("paper GRU+rec", 1.79),
                       ("paper TrXL", 1.76), ("paper TrXL+rec", 1.78)],
    "Endless-MysteryPath-v0": [("CleanRL TrXL", 1.84), ("paper GRU", 2.68), ("paper TrXL", 2.03)],
    "SearingSpotlights-v0": [("CleanRL TrXL+rec", 1.11), ("paper GRU+rec", 1.24), ("paper TrXL", 0.77),
                             ("paper TrXL+rec", 1.22)],
    "Endless-SearingSpotlights-v0": [("CleanRL TrXL+rec", 1.60), ("paper GRU+rec", 5.97), ("paper TrXL+rec", 1.67)],
}
GROUPS = {"exp": lambda env, exp: exp, "env": lambda env, exp: env, "env_exp": lambda env, exp: f"{env} {exp}"}


def fail(message: str) -> None:
    """Bad input: one clear line on stderr and a non-zero exit, no traceback."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def run_name_parts(run_dir: str) -> tuple[str | None, str | None]:
    """(env id, exp name) from a run directory named {env_id}__{exp_name}__{seed}__{time}."""
    parts = os.path.basename(os.path.normpath(run_dir)).split("__")
    return (parts[0], parts[1]) if len(parts) == 4 else (None, None)


def load_curve(run_dir: str, tag: str) -> tuple[np.ndarray, np.ndarray]:
    """(global steps, values) of one scalar of one TensorBoard run directory."""
    import logging

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    # A resumed run's log repeats the steps of the iteration that was interrupted; the loader drops
    # the interrupted copy (purge_orphaned_data) and would warn about "a TensorFlow restart".
    logging.getLogger("tensorboard").setLevel(logging.ERROR)
    if not os.path.isdir(run_dir):
        fail(f"no run directory {run_dir!r}")
    acc = EventAccumulator(run_dir, size_guidance={"scalars": 0})  # 0: keep every point
    acc.Reload()
    tags = acc.Tags().get("scalars", [])
    if tag not in tags:
        fail(f"{run_dir}: no scalar {tag!r}" + (f"; it has: {', '.join(sorted(tags))}" if tags else
                                                  " (no TensorBoard scalars there)"))
    events = acc.Scalars(tag)
    return np.array([e.step for e in events], dtype=np.float64), np.array([e.value for e in events])


def bin_curve(steps: np.ndarray, values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean of the values in each bin of ``edges``; a bin without a point carries the previous
    bin's mean forward (up to the run's last step; NaN before its first point and after its end)."""
    nbins = len(edges) - 1
    which = np.clip(np.searchsorted(edges, steps, side="right") - 1, 0, nbins - 1)
    sums = np.bincount(which, values, nbins)
    counts = np.bincount(which, minlength=nbins)
    out = np.full(nbins, np.nan)
    out[counts > 0] = sums[counts > 0] / counts[counts > 0]
    last = which.max() if len(which) else -1
    for i in range(1, last + 1):
        if np.isnan(out[i]):
            out[i] = out[i - 1]
    return out


def aggregate(curves: list[tuple[np.ndarray, np.ndarray]], edges: np.ndarray, spread: str):
    """Bin every run, then per bin the mean over runs and the spread's lower and upper bounds."""
    binned = np.stack([bin_curve(s, v, edges) for s, v in curves])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN bins: before every run's first point
        mean = np.nanmean(binned, axis=0)
        if spread == "std":
            std = np.nanstd(binned, axis=0)
            low, high = mean - std, mean + std
        else:
            low, high = np.nanmin(binned, axis=0), np.nanmax(binned, axis=0)
    return mean, low, high


def parse_args(argv):
    class Parser(argparse.ArgumentParser):
        def error(self, message):  # one line instead of usage + message
            fail(f"{message} (see --help)")

    p = Parser(description="Learning curves (mean and spread over seeds) from TensorBoard run directories.")
    p.add_argument("dirs", nargs="*", help="run directories, grouped with --group")
    p.add_argument("--runs", action="append", default=[], metavar="LABEL=DIR,DIR,...",
                   help="a labelled group of run directories (repeatable)")
    p.add_argument("--group", choices=sorted(GROUPS), default="exp",
                   help="how to group the positional run directories by their names {env}__{exp}__{seed}__{time} "
                        "(default: exp)")
    p.add_argument("--tag", default="charts/episodic_return", help="the scalar to plot (default: %(default)s)")
    p.add_argument("--bins", type=int, default=100, help="bins over the global step (default: 100)")
    p.add_argument("--spread", choices=["minmax", "std"], default="minmax",
                   help="band over the runs: min-max or mean +- std (default: minmax)")
    p.add_argument("--reference", action="store_true",
                   help="draw the published final returns of the env as horizontal lines (CleanRL's PPO-TrXL "
                        "docs; the paper's evaluation data, github.com/MarcoMeter/jmlr_2024.github.io)")
    p.add_argument("--env", help="the env id for --reference and the title (default: from the run names)")
    p.add_argument("--title", help="the figure's title (default: the env id and the tag)")
    p.add_argument("--output", default="curves.png", help="the PNG to write (default: curves.png)")
    a = p.parse_args(argv)
    if not 1 <= a.bins <= 100_000:
        fail(f"--bins must be an int in [1, 100000], got {a.bins}")
    extension = os.path.splitext(a.output)[1][1:].lower()
    if extension not in FORMATS:
        fail(f"--output {a.output!r}: give a file name ending in one of {', '.join('.' + f for f in FORMATS)}")
    check_output(a.output, "--output")
    groups = defaultdict(list)
    for spec in a.runs:
        label, sep, dirs = spec.partition("=")
        if not sep or not label or not [d for d in dirs.split(",") if d]:
            fail(f"--runs takes LABEL=DIR[,DIR...], got {spec!r}")
        groups[label] += [d for d in dirs.split(",") if d]
    for d in a.dirs:
        env, exp = run_name_parts(d)
        if env is None:
            fail(f"cannot group {d!r}: not named {{env_id}}__{{exp_name}}__{{seed}}__{{time}}; use --runs LABEL=DIR,...")
        groups[GROUPS[a.group](env, exp)].append(d)
    if not groups:
        fail("no runs: give run directories or --runs LABEL=DIR,DIR,...")
    return a, dict(groups)


# [shared: outputs]
# What enjoy.py and plot.py write follows one set of rules; both scripts stand alone, so the block is in both
# (tests/test_shared_blocks.py checks that the two are the same).
def check_output(path: str, flag: str) -> None:
    """Before any work: ``path`` names a file that can be written, and what is there, if anything, is a regular file.
    An output only ever replaces a regular file: a symbolic link, a device, a FIFO or a directory is refused (replacing
    it would destroy it, or write through the link somewhere else). Nothing is made here: a missing folder is made
    when the file is written."""
    if os.path.basename(path) in ("", ".", ".."):  # (a write would fail only after the work)
        fail(f"{flag} {path!r}: give the path of a file to write, not of a folder")
    if os.path.islink(path) or (os.path.lexists(path) and not os.path.isfile(path)):
        kind = ("a symbolic link" if os.path.islink(path) else "a directory" if os.path.isdir(path)
                else "not a regular file (a device, a FIFO, ...)")
        fail(f"{flag} {path!r} is {kind}; give the path of a regular file to write")
    folder = check_folder(os.path.dirname(os.path.abspath(path)), flag, path)
    try:
        most = os.pathconf(folder, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # (no pathconf on Windows): the common limit
        most = 255
    if any(len(os.fsencode(name)) > most for name in os.path.relpath(os.path.abspath(path), folder).split(os.sep)):
        fail(f"{flag} {path!r}: a name in it is longer than the {most} bytes a file name can have here")


def check_folder(folder: str, flag: str, path: str) -> str:
    """``folder``, or the nearest folder above it that exists (the rest is made when the output is written), can be
    written: that folder, or one line."""
    while not os.path.lexists(folder):
        folder = os.path.dirname(folder)
    try:  # a real try: permissions, a read-only file system, a file where a folder should be (root ignores modes)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as e:
        fail(f"{flag} {path!r}: cannot write in {folder!r} ({e.strerror})")
    return folder


def write_output(write, path: str, flag: str) -> None:
    """``write(tmp)`` into a new temporary file beside ``path``, then rename it over ``path``: a reader sees the old
    file or the new one, and a failed write (a full disk) is one line that leaves the old file as it was."""
    check_output(path, flag)  # again: the path may have changed during the work
    tmp = None
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-")  # new: never a link
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # the mode a new file gets (mkstemp's is 0600)
        write(tmp)
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        fail(f"{flag} {path!r}: the write failed ({e.strerror or e}); "
             + ("the file there is unchanged" if os.path.exists(path) else "nothing was written"))
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


class GuardedStdout:
    """Standard output that fails (redirected to a full disk, a closed pipe) ends the program with one line on stderr,
    not a traceback; the files already written are complete."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError as e:
            self.failed(e)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as e:
            self.failed(e)

    def failed(self, e: OSError) -> None:
        try:  # what is still buffered goes nowhere, so that the exit is quiet
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self.stream.fileno())
            os.close(null)
        except (OSError, ValueError):
            pass
        sys.stdout = self.stream
        fail(f"standard output failed ({e.strerror or e})")

    def __getattr__(self, name):
        return getattr(self.stream, name)
# [end shared: outputs]


FORMATS = ("png", "pdf", "svg", "jpg", "jpeg", "webp", "tif", "tiff", "eps", "ps")  # what matplotlib writes here


def main(argv=None):
    a, groups = parse_args(sys.argv[1:] if argv is None else argv)
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    matplotlib.rcParams["text.parse_math"] = False  # titles, labels and run names are drawn as given ($ is a $)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import EngFormatter

    curves = {label: [load_curve(d, a.tag) for d in dirs] for label, dirs in groups.items()}
    empty = [d for label, dirs in groups.items() for d, (s, _) in zip(dirs, curves[label]) if len(s) == 0]
    if empty:
        fail(f"no {a.tag!r} points in {', '.join(empty)}")
    envs = {run_name_parts(d)[0] for dirs in groups.values() for d in dirs} - {None}
    env = a.env or (envs.pop() if len(envs) == 1 else None)
    if a.reference and env not in REFERENCE:
        fail(f"--reference: no published numbers for {env!r}" if env else
             "--reference: the runs are not of one env; name it with --env")
    xmax = max(s.max() for runs in curves.values() for s, _ in runs)
    edges = np.linspace(0.0, xmax, a.bins + 1)
    centers = (edges[:-1] + edges[1:]) / 2

    fig, ax = plt.subplots(figsize=(8, 5))
    for label, runs in curves.items():
        mean, low, high = aggregate(runs, edges, a.spread)
        shown = ~np.isnan(mean)
        line, = ax.plot(centers[shown], mean[shown], label=f"{label} ({len(runs)} run{'s' * (len(runs) > 1)})")
        ax.fill_between(centers[shown], low[shown], high[shown], color=line.get_color(), alpha=0.2, linewidth=0)
    if a.reference:
        styles = ["--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1))]
        for k, (label, value) in enumerate(REFERENCE[env]):
            ax.axhline(value, color="gray", linestyle=styles[k % len(styles)], linewidth=1,
                       label=f"{label}: {value:.2f} (reference)")
    ax.set_xlabel("global step")
    ax.xaxis.set_major_formatter(EngFormatter())
    ax.set_ylabel(a.tag)
    spread = "min-max over runs" if a.spread == "minmax" else "mean +- std over runs"
    ax.set_title(a.title or f"{env or 'several envs'}: {a.tag} (mean, band: {spread})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    extension = os.path.splitext(a.output)[1][1:].lower()
    write_output(lambda tmp: fig.savefig(tmp, dpi=120, format=extension), a.output, "--output")
    print(f"written to {a.output}")


if __name__ == "__main__":
    sys.stdout = GuardedStdout(sys.stdout)
    main()

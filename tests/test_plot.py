"""plot.py: binning and the spread over runs, TensorBoard loading, a PNG from two run directories of
the training scripts, bad input."""
import os

import numpy as np
import pytest
from torch.utils.tensorboard import SummaryWriter

from test_training_scripts import run_script  # first: puts the repository root on sys.path

import plot  # noqa: E402


def test_bins_carry_forward_and_stop_at_the_run_end():
    edges = np.linspace(0, 100, 11)  # bins of 10 steps
    steps = np.array([5.0, 7.0, 35.0, 61.0])
    out = plot.bin_curve(steps, np.array([1.0, 3.0, 4.0, 8.0]), edges)
    assert np.allclose(out[:7], [2.0, 2.0, 2.0, 4.0, 4.0, 4.0, 8.0])  # means; empty bins carry forward
    assert np.isnan(out[7:]).all()  # after the run's last point
    late = plot.bin_curve(np.array([55.0]), np.array([1.0]), edges)
    assert np.isnan(late[:5]).all() and late[5] == 1.0


def test_mean_and_spread_over_runs():
    edges = np.array([0.0, 10.0, 20.0])
    runs = [(np.array([1.0, 11.0]), np.array([1.0, 2.0])), (np.array([2.0, 12.0]), np.array([3.0, 6.0])),
            (np.array([3.0]), np.array([5.0]))]  # the third run ends in the first bin
    mean, low, high = plot.aggregate(runs, edges, "minmax")
    assert np.allclose(mean, [3.0, 4.0]) and np.allclose(low, [1.0, 2.0]) and np.allclose(high, [5.0, 6.0])
    mean, low, high = plot.aggregate(runs, edges, "std")
    assert np.allclose(low, mean - [np.std([1, 3, 5]), 2.0]) and np.allclose(high, mean + [np.std([1, 3, 5]), 2.0])


def write_run(directory, points):
    writer = SummaryWriter(directory)
    for step, value in points:
        writer.add_scalar("charts/episodic_return", value, step)
    writer.close()
    return str(directory)


def test_load_curve_reads_what_was_logged(tmp_path):
    run = write_run(tmp_path / "MortarMayhem-Grid-v0__ppo_trxl__1__1", [(10, 0.5), (20, 0.25)])
    steps, values = plot.load_curve(run, "charts/episodic_return")
    assert steps.tolist() == [10, 20] and values.tolist() == [0.5, 0.25]


def test_a_png_from_two_run_directories(tiny_runs, tmp_path):
    dirs = list(tiny_runs.values())  # one run of each training script, ProofofMemory-v0
    r = run_script("plot.py", ["--runs", "both=" + ",".join(dirs), "--runs", f"trxl={dirs[0]}", "--reference",
                               "--bins", "20", "--output", str(tmp_path / "out" / "curves.png")], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    png = open(tmp_path / "out" / "curves.png", "rb").read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    r = run_script("plot.py", [*dirs, "--group", "exp", "--spread", "std", "--output", "by_exp.png"], tmp_path)
    assert r.returncode == 0 and os.path.getsize(tmp_path / "by_exp.png") > 10_000, r.stderr[-2000:]


def test_bad_input_is_one_clear_line(tmp_path, capsys):
    run = write_run(tmp_path / "MortarMayhem-Grid-v0__ppo_trxl__1__1", [(10, 0.5)])
    other = write_run(tmp_path / "MysteryPath-v0__ppo_gru__1__1", [(10, 0.5)])
    cases = [
        ([], "no runs: give run directories or --runs LABEL=DIR,DIR,..."),
        (["--runs", "nolabel"], "--runs takes LABEL=DIR[,DIR...], got 'nolabel'"),
        (["--runs", f"a={tmp_path}/missing"], "no run directory"),
        ([str(tmp_path)], "cannot group"),
        ([run, "--tag", "losses/nothing"], "no scalar 'losses/nothing'; it has: charts/episodic_return"),
        ([run, other, "--reference"], "the runs are not of one env; name it with --env"),
        ([run, "--reference", "--env", "CartPole-v1"], "no published numbers for 'CartPole-v1'"),
        ([run, "--spread", "iqr"], "invalid choice: 'iqr'"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as e:
            plot.main(argv + ["--output", str(tmp_path / "x.png")])
        err = capsys.readouterr().err
        assert e.value.code != 0 and err.count("\n") == 1 and message in err, (argv, err)
    assert not os.path.exists(tmp_path / "x.png")

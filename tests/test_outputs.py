"""What enjoy.py, plot.py and cpu_suite.py --report write, and what they refuse: outputs only ever replace
regular files (never a symlink, a device, a FIFO), atomically; a failed write is one line with the old file intact;
inputs that would fail late (huge counts, seeds, devices, unwritable folders, malformed runs, damaged records) are
one line before any work."""
import json
import os
import resource
import subprocess
import sys

import pytest

from test_plot import write_run
from test_training_scripts import ROOT  # first: puts the repository root on sys.path

import enjoy  # noqa: E402
import plot  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import cpu_suite  # noqa: E402


def one_line_exit(capsys, call, *args) -> str:
    with pytest.raises(SystemExit) as e:
        call(*args)
    err = capsys.readouterr().err
    assert e.value.code != 0 and err.count("\n") == 1 and err.startswith("error: "), err
    return err


def targets(tmp_path) -> dict:
    """Paths an output must not replace, and what each must still be afterwards."""
    (tmp_path / "real.json").write_text("the link's target")
    os.symlink(tmp_path / "real.json", tmp_path / "link.json")
    os.mkfifo(tmp_path / "fifo.json")
    (tmp_path / "dir.png").mkdir()
    return {"link.json": "a symbolic link", "fifo.json": "not a regular file", "dir.png": "a directory"}


@pytest.mark.parametrize("tool", ["enjoy", "plot"])
def test_outputs_replace_only_regular_files(tool, tiny_runs, tmp_path, capsys):
    run = write_run(tmp_path / "run", [(1, 1.0), (2, 2.0)])
    for name, kind in targets(tmp_path).items():
        target = str(tmp_path / (name if tool == "enjoy" else name.replace(".json", ".png")))
        if not os.path.lexists(target):
            continue
        if tool == "enjoy":
            err = one_line_exit(capsys, enjoy.main, [os.path.join(tiny_runs["ppo_gru"], "checkpoint.pt"), "--eval",
                                                     "--num-seeds", "1", "--output", target])
        else:
            err = one_line_exit(capsys, plot.main, ["--runs", f"A={run}", "--output", target])
        assert kind in err, err
    assert os.path.islink(tmp_path / "link.json") and (tmp_path / "real.json").read_text() == "the link's target"
    assert not os.path.isfile(tmp_path / "fifo.json") and os.path.isdir(tmp_path / "dir.png")
    assert not os.path.exists("/dev/full.png")
    if tool == "plot":
        assert "give a file name ending in one of .png" in one_line_exit(
            capsys, plot.main, ["--runs", f"A={run}", "--output", "/dev/full"])
        assert not os.path.exists("/dev/full.png")


def limited(args, cwd, file_size):
    """A tool's subprocess whose writes are capped at ``file_size`` bytes (EFBIG: a full disk, also for root)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          preexec_fn=limit, env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "tests")))


def test_a_failed_write_leaves_the_old_file_and_is_one_line(tiny_runs, tmp_path):
    run = write_run(tmp_path / "run", [(s, float(s)) for s in range(50)])
    plot.main(["--runs", f"A={run}", "--output", str(tmp_path / "warm.png")])  # matplotlib's font cache exists
    os.remove(tmp_path / "warm.png")
    old_png = b"\x89PNG old picture" * 4000  # 64 KB: more than the cap below
    (tmp_path / "curves.png").write_bytes(old_png)
    r = limited([os.path.join(ROOT, "plot.py"), "--runs", f"A={run}", "--output", "curves.png"], tmp_path, 20_000)
    assert r.returncode != 0 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert "--output 'curves.png': the write failed (File too large); the file there is unchanged" in r.stderr
    assert (tmp_path / "curves.png").read_bytes() == old_png and sorted(os.listdir(tmp_path)) == ["curves.png", "run"]
    (tmp_path / "eval.json").write_text('{"old": 1}')
    r = limited([os.path.join(ROOT, "enjoy.py"), os.path.join(tiny_runs["ppo_gru"], "checkpoint.pt"), "--eval",
                 "--num-seeds", "2", "--output", "eval.json"], tmp_path, 100)
    assert r.returncode != 0 and r.stderr.count("\n") == 1 and "the write failed (File too large)" in r.stderr, r.stderr
    assert json.loads((tmp_path / "eval.json").read_text()) == {"old": 1}
    assert sorted(os.listdir(tmp_path)) == ["curves.png", "eval.json", "run"]


def test_enjoys_late_failures_are_one_line_before_any_work(tiny_runs, tmp_path, capsys):
    model = os.path.join(tiny_runs["ppo_gru"], "checkpoint.pt")
    (tmp_path / "file").write_text("")
    cases = [(["--num-seeds", str(10 ** 9)], "--num-seeds must be an int in [1, 1000000], got 1000000000"),
             (["--repeats", "5000"], "--repeats must be an int in [1, 1000]"),
             (["--num-envs", str(2 ** 40)], "--num-envs must be an int in [1, 4096]"),
             (["--start-seed", str(2 ** 70)], "--start-seed must be an int in [0, 4294967246] (its 50 seeds"),
             (["--start-seed", str(2 ** 32 - 10)], "--start-seed must be an int in [0, 4294967246]"),
             (["--device", "nope"], "--device must be a torch device (cpu, cuda, cuda:1, mps, ...), got 'nope'")]
    for flags, message in cases:
        assert message in one_line_exit(capsys, enjoy.main, [model, "--eval", *flags]), flags
    video = str(tmp_path / "file" / "videos")  # under a file: cannot be made (as root too)
    assert "--video" in one_line_exit(capsys, enjoy.main, [model, "--video", video]) and not os.path.exists(video)
    if not __import__("torch").cuda.is_available():
        assert "CUDA is not available here" in one_line_exit(capsys, enjoy.main, [model, "--eval", "--device", "cuda"])


def test_outputs_that_would_fail_after_the_work_are_refused_before_it(tiny_runs, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = os.path.join(tiny_runs["ppo_gru"], "checkpoint.pt")
    run = write_run(tmp_path / "run", [(1, 1.0), (2, 2.0)])
    long = "a" * 300  # longer than a file name can be
    for output, message in [("out/", "give the path of a file to write, not of a folder"),
                            ("out/.", "not of a folder"), (long + ".json", "longer than the 255 bytes"),
                            (f"new/{long}/x.json", "a name in it is longer than")]:
        assert message in one_line_exit(capsys, enjoy.main, [model, "--eval", "--output", output]), output
        plot_output = output.replace(".json", ".png") if output.endswith(".json") else output
        if plot_output.endswith(".png"):
            assert message in one_line_exit(capsys, plot.main, ["--runs", f"A={run}", "--output", plot_output])
    assert "--output '': give the path of a file" in one_line_exit(capsys, enjoy.main,
                                                                    [model, "--eval", "--output", ""])
    assert "--video needs a folder" in one_line_exit(capsys, enjoy.main, [model, "--eval", "--video", ""])
    assert "its 60 seeds below 2**32" in one_line_exit(  # --episodes, not --num-seeds, counts for a video
        capsys, enjoy.main, [model, "--video", "v", "--episodes", "60", "--start-seed", str(2 ** 32 - 50)])
    assert sorted(os.listdir(tmp_path)) == ["run"]


def test_nothing_is_made_before_the_checks_and_a_new_folder_is_made_at_the_write(tiny_runs, tmp_path, capsys):
    model = os.path.join(tiny_runs["ppo_gru"], "checkpoint.pt")
    run = write_run(tmp_path / "run", [(1, 1.0), (2, 2.0)])
    (tmp_path / "notes.pt").write_text("not a checkpoint")
    one_line_exit(capsys, plot.main, ["--runs", "A=,,", "--output", str(tmp_path / "new" / "c.png")])
    one_line_exit(capsys, enjoy.main, [str(tmp_path / "notes.pt"), "--eval", "--output",
                                       str(tmp_path / "new" / "e.json")])
    assert not os.path.exists(tmp_path / "new")
    plot.main(["--runs", f"A={run}", "--output", str(tmp_path / "new" / "deeper" / "c.png")])
    umask = os.umask(0)
    os.umask(umask)
    out = tmp_path / "new" / "deeper" / "c.png"
    assert os.listdir(out.parent) == ["c.png"] and out.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() makes it


def test_the_temporary_file_is_new_never_a_planted_link(tmp_path):
    (tmp_path / "victim").write_text("not to be touched")
    path = tmp_path / "eval.json"
    for name in [f"eval.json.tmp{os.getpid()}", ".eval.json.tmp", "eval.json.tmp"]:  # names a writer might pick
        os.symlink(tmp_path / "victim", tmp_path / name)
    enjoy.write_json({"new": 1}, str(path))
    assert json.loads(path.read_text()) == {"new": 1} and not os.path.islink(path)
    assert (tmp_path / "victim").read_text() == "not to be touched"


def test_plots_formats_are_ones_matplotlib_writes_and_the_docs_name():
    from matplotlib.backend_bases import FigureCanvasBase  # (plot.py names them without importing matplotlib)

    assert set(plot.FORMATS) <= set(FigureCanvasBase.get_supported_filetypes())
    docs = open(os.path.join(ROOT, "docs", "evaluation.md")).read()
    assert ", ".join(f"`.{f}`" for f in plot.FORMATS) in " ".join(docs.split())


def test_plots_late_failures_are_one_line_and_text_is_drawn_as_given(tmp_path, capsys):
    run = write_run(tmp_path / "run", [(1, 1.0), (2, 2.0)])
    (tmp_path / "file").write_text("")
    for argv, message in [(["--runs", "A=,,"], "--runs takes LABEL=DIR[,DIR...], got 'A=,,'"),
                          (["--runs", f"A={run}", "--bins", str(10 ** 10)], "--bins must be an int in [1, 100000]"),
                          (["--runs", f"A={run}", "--output", "x.bmpx"], "give a file name ending in one of .png"),
                          (["--runs", f"A={run}", "--output", str(tmp_path / "file" / "c.png")], "cannot write in")]:
        assert message in one_line_exit(capsys, plot.main, argv), argv
    out = tmp_path / "title.png"
    plot.main(["--runs", f"$\\frac{{A={run}", "--title", "$\\frac", "--output", str(out)])  # mathtext would fail
    assert out.stat().st_size > 0


# --- cpu_suite.py --report: a damaged record never reaches a table ------------------------------------------------

def make_record(tmp_path):
    run = cpu_suite.Run(str(tmp_path / "work"), str(tmp_path / "out"), "mortar", "GRU", 1)
    os.makedirs(run.result)
    record = {"task": "mortar", "agent": "GRU", "seed": 1, "steps": run.task.steps, "metric": "success",
              "eval_success": 0.5, "eval_return": 0.4, "wall_s": 60.0, "command": run.command}
    (tmp_path / "out" / "records" / "mortar" / "GRU" / "1" / "curve.json").write_text(
        json.dumps({"tag": "episode/success", "steps": [1, 2], "values": [0.1, 0.2]}))
    return run, record


@pytest.mark.parametrize("damage, message", [
    ("{", "not a readable JSON file"), ("[1, 2]", "expected a JSON object, got list"),
    ({"eval_success": float("nan")}, "eval_success must be a number in [0, 1], got nan"),
    ({"eval_success": 1e308}, "eval_success must be a number in [0, 1]"),
    ({"eval_success": -0.5}, "eval_success must be a number in [0, 1]"),
    ({"eval_success": "0.5"}, "eval_success must be a number in [0, 1], got '0.5'"),
    ({"eval_success": True}, "eval_success must be a number in [0, 1], got True"),
    ({"eval_return": float("inf")}, "eval_return must be a finite number"),
    ({"wall_s": -1}, "wall_s must be a finite number >= 0"), ({"seed": "1"}, "seed must be 1"),
    ({"seed": True}, "seed must be 1, got True"), ({"steps": 300000.0}, "steps must be 300000, got 300000.0"),
    ({"eval_return": 1e308}, "eval_return must be a finite number within +-1e+06"),
    ({"wall_s": ...}, "wall_s must be a finite number >= 0, got nothing (no such key)"),  # ...: the key removed
    ({"steps": None}, "steps must be 300000"), ({"metric": "return"}, "metric must be 'success'"),
    ({"command": 5}, "made with other settings than the suite's now"),
    ("curve", "curve.json: expected steps and values"),
])
def test_a_damaged_record_is_one_line_and_nothing_is_written(damage, message, tmp_path, capsys):
    run, record = make_record(tmp_path)
    if damage == "curve":
        text = json.dumps(record)
        (tmp_path / "out" / "records" / "mortar" / "GRU" / "1" / "curve.json").write_text('{"steps": [1], "values": []}')
    elif isinstance(damage, str):
        text = damage
    else:
        record = {k: v for k, v in (record | damage).items() if v is not ...}
        text = json.dumps(record)  # (NaN and Infinity as JSON writes them)
    with open(run.record_path, "w") as f:
        f.write(text)
    with pytest.raises(SystemExit) as e:
        cpu_suite.report([run], str(tmp_path / "out"))
    assert str(e.value).startswith("error: ") and message in str(e.value) and "\n" not in str(e.value), str(e.value)
    assert sorted(os.listdir(tmp_path / "out")) == ["records"]  # no summary.json, results.md, plot


def test_a_sound_record_makes_the_report(tmp_path):
    run, record = make_record(tmp_path)
    with open(run.record_path, "w") as f:
        json.dump(record, f)
    cpu_suite.report([run], str(tmp_path / "out"))
    assert json.loads((tmp_path / "out" / "summary.json").read_text()) == [record]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_standard_output_on_a_full_device_is_one_line(tiny_runs, tmp_path):
    model = os.path.join(tiny_runs["ppo_gru"], "checkpoint.pt")
    run = write_run(tmp_path / "run", [(1, 1.0), (2, 2.0)])
    for argv in ([os.path.join(ROOT, "enjoy.py"), model, "--eval", "--num-seeds", "1"],
                 [os.path.join(ROOT, "plot.py"), "--runs", f"A={run}", "--output", str(tmp_path / "c.png")]):
        with open("/dev/full", "w") as full:
            r = subprocess.run([sys.executable, *argv], cwd=tmp_path, stdout=full, stderr=subprocess.PIPE, text=True,
                               timeout=300)
        assert r.returncode == 2 and r.stderr == "error: standard output failed (No space left on device)\n", r.stderr
    assert (tmp_path / "c.png").stat().st_size > 0  # the file was written before the message failed

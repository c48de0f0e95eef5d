"""benchmarks/cpu_suite.py's machinery on a tiny budget: runs, evaluation, records, report,
resumability (a finished run is not run again; a trained run without a record is only evaluated)."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def suite(tmp_path, *extra):
    return subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "cpu_suite.py"), "--tasks", "mortar",
                           "--agents", "GRU", "GRU no memory", "--seeds", "1", "--steps", "3000",
                           "--work", str(tmp_path / "work"), "--out", str(tmp_path / "out"), *extra],
                          capture_output=True, text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS="1"))


@pytest.mark.slow
def test_printed_commands_run_one_run_each_then_the_suite_reports_and_resumes(tmp_path):
    """--print-commands: a line per unfinished run; each line trains and evaluates its run alone and writes no
    report (as a scheduler's jobs would); --report collects the records; the suite itself then finds them done, and
    a trained run without a record is evaluated, not trained again. (The local pool trains in the SIGTERM test.)"""
    listed = suite(tmp_path, "--print-commands")
    assert listed.returncode == 0, listed.stderr[-2000:]
    lines = listed.stdout.splitlines()
    assert len(lines) == 2 and all("--parallel 1 --no-report" in line and "--steps 3000" in line for line in lines)
    assert "--agents GRU --seeds 1" in lines[0] and "--agents 'GRU no memory' --seeds 1" in lines[1]
    for line in lines:
        r = subprocess.run(line, shell=True, capture_output=True, text=True, timeout=600,
                           env=dict(os.environ, OMP_NUM_THREADS="1"))
        assert r.returncode == 0, r.stderr[-2000:]
    out = tmp_path / "out"
    assert not (out / "summary.json").exists()  # --no-report
    assert suite(tmp_path, "--print-commands").stdout == ""  # nothing left to run
    r = suite(tmp_path, "--report")
    assert r.returncode == 0, r.stderr[-2000:]
    records = json.loads((out / "summary.json").read_text())
    assert sorted((x["task"], x["agent"], x["seed"]) for x in records) == [("mortar", "GRU", 1),
                                                                           ("mortar", "GRU no memory", 1)]
    for x in records:
        assert x["steps"] == 3000 and x["metric"] == "success" and 0 <= x["eval_success"] <= 1 and x["wall_s"] > 0
    result = out / "records" / "mortar" / "GRU" / "1"
    evaluation = json.loads((result / "eval.json").read_text())
    assert len(evaluation["episodes"]) == 150 and not os.path.isabs(evaluation["model"])
    assert json.loads((result / "curve.json").read_text())["tag"] == "episode/success"
    results = (out / "results.md").read_text()
    assert "| GRU no memory | 1 |" in results and (out / "mortar.png").stat().st_size > 0
    assert "| agent | mortar: success |\n" in results and "| TrXL | - |" in results  # the headline: no TrXL run
    assert "| mortar | GRU - GRU no memory | 1 / 1 |" in results  # the findings
    again = suite(tmp_path)
    assert "2 of 2 runs already done" in again.stdout and "training" not in again.stdout
    # trained (one whole iteration of 2048 steps: 3000 is not a multiple of the batch), not recorded:
    # evaluated again, not retrained
    os.remove(result / "record.json")
    again = suite(tmp_path)
    assert "1 of 2 runs already done" in again.stdout and "training" not in again.stdout and "finished" in again.stdout
    assert (result / "record.json").exists()


def test_a_record_or_run_made_with_other_settings_stops_the_suite(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import cpu_suite

    run = cpu_suite.Run(str(tmp_path / "work"), str(tmp_path / "out"), "mortar", "GRU", 1)
    assert not run.done
    os.makedirs(run.dir)
    with open(os.path.join(run.dir, "command.json"), "w") as f:  # a run started with the suite's settings
        json.dump({"command": run.command}, f)
    assert not run.done
    os.makedirs(run.result)
    with open(run.record_path, "w") as f:
        json.dump({"command": run.command}, f)
    assert run.done
    for path in (run.record_path, os.path.join(run.dir, "command.json")):
        with open(path, "w") as f:  # e.g. made before a task's reset parameters changed
            json.dump({"command": run.command.replace("--seed 1", "--seed 2")}, f)
        with pytest.raises(SystemExit, match="made with other settings than the suite's now"):
            run.done
        with open(path, "w") as f:
            json.dump({"command": run.command}, f)


def test_a_run_is_trained_when_its_checkpoint_is_at_the_last_whole_iteration(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import cpu_suite
    import torch

    run = cpu_suite.Run(str(tmp_path / "work"), str(tmp_path / "out"), "mortar", "GRU", 1)
    assert not run.trained()
    os.makedirs(os.path.join(run.dir, "runs", "x"))
    batch = 16 * 128  # the suite's --num-envs x --num-steps
    last = run.task.steps // batch  # 300k steps: 146 whole iterations, 299,008 steps
    for iteration, trained in ((last - 1, False), (last, True)):
        torch.save({"args": {"num_envs": 16, "num_steps": 128}, "iteration": iteration,
                    "global_step": iteration * batch}, os.path.join(run.dir, "runs", "x", "checkpoint.pt"))
        assert run.trained() is trained, iteration


def test_the_findings_compare_agents_by_bootstrapped_differences():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import cpu_suite
    import numpy as np

    rng = np.random.default_rng(0)
    d, (lo, hi) = cpu_suite.difference(np.array([0.9, 1.0, 0.8]), np.array([0.3, 0.2, 0.25]), rng)
    assert d == pytest.approx(0.65) and 0.5 < lo < d < hi < 0.8
    d, (lo, hi) = cpu_suite.difference(np.array([0.1, 0.5, 0.3]), np.array([0.2, 0.4, 0.3]), rng)
    assert d == pytest.approx(0.0) and lo < 0 < hi
    scores = {("mortar", "GRU"): np.array([1.0, 0.9, 1.0]), ("mortar", "GRU no memory"): np.array([0.2, 0.3, 0.25]),
              ("mortar", "TrXL"): np.array([0.3, 0.35, 0.2]), ("mortar", "TrXL+rec"): np.array([0.3, 0.9, 0.6])}
    table = "\n".join(cpu_suite.findings(scores, rng))
    assert "| mortar | GRU - GRU no memory | 3 / 3 | +0.72 [" in table and "] | > 0 |" in table
    assert "| mortar | TrXL - GRU | 3 / 3 | -0.68 [" in table and "] | < 0 |" in table
    assert "| mortar | TrXL+rec - TrXL | 3 / 3 | +0.32 [" in table
    assert "| mystery |" not in table and "| endless |" not in table  # no runs, no rows
    scores[("mortar", "FFM")] = np.array([0.95, 1.0])
    zoo = "\n".join(cpu_suite.findings(scores, rng, cpu_suite.ZOO_COMPARISONS, "The memory zoo"))
    assert zoo.startswith("## The memory zoo") and "| mortar | FFM - GRU | 2 / 3 | +0.01 [" in zoo
    assert "| mortar | FFM - GRU no memory | 2 / 3 | +0.72 [" in zoo and "minGRU" not in zoo  # no runs, no rows
    assert cpu_suite.ZOO == ["minGRU", "FFM", "LRU", "Mamba", "GDN", "FrameStack"]


@pytest.mark.slow
def test_sigterm_stops_the_runs_in_progress_at_a_checkpoint_and_the_next_call_resumes_them(tmp_path):
    import signal
    import time

    import torch

    args = [sys.executable, os.path.join(ROOT, "benchmarks", "cpu_suite.py"), "--tasks", "mortar", "--agents", "GRU",
            "--seeds", "1", "--steps", "10240", "--work", str(tmp_path / "work"), "--out", str(tmp_path / "out")]
    suite_proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=dict(os.environ, OMP_NUM_THREADS="1"))
    log = tmp_path / "work" / "mortar" / "GRU" / "1" / "train.log"
    deadline = time.time() + 300
    while not (log.exists() and "iter 2/" in log.read_text()) and time.time() < deadline:
        time.sleep(0.5)
    suite_proc.send_signal(signal.SIGTERM)  # the suite only, as a scheduler would: it passes it on
    out, err = suite_proc.communicate(timeout=300)
    assert suite_proc.returncode == 1 and "stopped; the runs in progress kept their last completed iteration" in err
    checkpoint, = (tmp_path / "work" / "mortar" / "GRU" / "1" / "runs").glob("*/checkpoint.pt")
    step = torch.load(checkpoint, weights_only=True)["global_step"]
    assert 2 * 2048 <= step < 10240 and "stopped; " in log.read_text()  # the training process wrote it and ended
    assert not (tmp_path / "out" / "records" / "mortar" / "GRU" / "1" / "record.json").exists()
    again = subprocess.run(args, capture_output=True, text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert again.returncode == 0 and "resuming mortar / GRU / seed 1" in again.stdout, again.stderr[-2000:]
    assert "finished mortar / GRU / seed 1" in again.stdout


def test_the_report_writes_the_headline_between_the_markers_of_the_pages(tmp_path, monkeypatch):
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import cpu_suite

    marked, plain = tmp_path / "marked.md", tmp_path / "plain.md"
    marked.write_text(f"# Results\n\nbefore\n{cpu_suite.BEGIN}\nold table\n{cpu_suite.END}\n\nafter\n")
    plain.write_text("no markers\n")
    monkeypatch.setattr(cpu_suite, "PAGES", {str(marked): "headline", str(plain): "tables"})
    cpu_suite.update_pages({"headline": ["Status: 1 of 36", "", "| new | table |"], "tables": ["other"]})
    assert marked.read_text() == (f"# Results\n\nbefore\n{cpu_suite.BEGIN}\nStatus: 1 of 36\n\n| new | table |\n"
                                  f"{cpu_suite.END}\n\nafter\n")
    assert plain.read_text() == "no markers\n"
    for page in (os.path.join(ROOT, "README.md"), os.path.join(ROOT, "docs", "results.md")):
        text = open(page).read()  # the project's pages carry the markers the report writes between
        assert text.count(cpu_suite.BEGIN) == 1 and text.count(cpu_suite.END) == 1


def test_every_memory_of_ppo_gru_is_a_suite_agent():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    sys.path.insert(0, ROOT)
    import cpu_suite
    import ppo_gru

    in_suite = {flags[flags.index("--rnn-type") + 1] for flags in cpu_suite.AGENTS.values() if "--rnn-type" in flags}
    assert in_suite == set(ppo_gru.MEMORIES) - {"gru", "lstm"}


def test_a_report_with_nothing_new_but_the_date_leaves_the_pages_alone(tmp_path, monkeypatch):
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import cpu_suite

    page = tmp_path / "page.md"
    page.write_text(f"intro\n{cpu_suite.BEGIN}\nold\n{cpu_suite.END}\nrest\n")
    monkeypatch.setattr(cpu_suite, "PAGES", {str(page): "headline"})
    cpu_suite.update_pages({"headline": ["Status on 2026-12-02: 36 of 36 runs", "| a | b |"]})
    made = page.read_text()
    assert "Status on 2026-12-02" in made and made.startswith("intro\n") and made.endswith("rest\n")
    before = page.stat().st_mtime_ns
    cpu_suite.update_pages({"headline": ["Status on 2026-12-05: 36 of 36 runs", "| a | b |"]})  # only the date
    assert page.read_text() == made and page.stat().st_mtime_ns == before
    cpu_suite.update_pages({"headline": ["Status on 2026-12-05: 37 of 37 runs", "| a | b |"]})  # news
    assert "Status on 2026-12-05: 37 of 37" in page.read_text()


def test_the_documented_evaluation_output_folder_is_ignored():
    r = subprocess.run(["git", "check-ignore", "-q", "results/RUN.json"], cwd=ROOT)
    assert r.returncode == 0  # docs/evaluation.md writes there


def test_every_tasks_metric_is_in_its_envs_final_info_and_has_a_curve():
    """An endless task is scored in its family's unit: the env reports it when an episode ends (evaluation and the
    training curve read it there)."""
    import gymnasium as gym

    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import cpu_suite

    for name, task in cpu_suite.TASKS.items():
        assert task.metric in cpu_suite.CURVE_TAGS, name
        if task.metric in ("success", "return"):
            continue
        env = gym.make(task.env_id, **task.env_kwargs, **task.eval_kwargs)
        env.reset(seed=0)
        done = False
        while not done:
            _, _, terminated, truncated, info = env.step(env.action_space.sample())
            done = terminated or truncated
        assert task.metric in info and cpu_suite.CURVE_TAGS[task.metric] == f"episode/{task.metric}", name


def test_the_measured_speed_joins_the_table_and_a_damaged_speed_file_stops_the_report(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import cpu_suite
    import train_speed

    rows = [dict(agent="GRU", sps=512.4, rss_gb=0.71, rollout=1.5, update=2.5),
            dict(agent="FFM", sps=431.0, rss_gb=0.8, rollout=1.7, update=3.0)]
    out = tmp_path / "out"
    out.mkdir()
    train_speed.write_speed(str(out / cpu_suite.SPEED), rows, 3, (590.0, 600.0))
    runs = [cpu_suite.Run(str(tmp_path / "work"), str(out), t, a, 1) for t in cpu_suite.TASKS for a in cpu_suite.AGENTS]
    cpu_suite.report(runs, str(out))  # no run finished: the table has only the measured columns
    table = (out / "results.md").read_text()
    assert "| agent | steps/s per thread | peak RSS |" in table
    assert "| GRU | 512 | 0.71 GB |" in table and "| FFM | 431 | 0.80 GB |" in table and "| Mamba | - | - |" in table
    assert "python benchmarks/train_speed.py" in table and "3 iterations" in table

    speed = json.loads((out / cpu_suite.SPEED).read_text())
    speed["memories"]["GRU"]["steps_per_s"] = float("nan")
    (out / cpu_suite.SPEED).write_text(json.dumps(speed))
    with pytest.raises(SystemExit, match=r"speed.json: 'GRU': steps_per_s must be a number > 0"):
        cpu_suite.report(runs, str(out))
    speed["memories"] = {"ResNet": {"steps_per_s": 1.0, "peak_rss_gb": 1.0}}
    (out / cpu_suite.SPEED).write_text(json.dumps(speed))
    with pytest.raises(SystemExit, match=r"'ResNet'.*for an agent of the suite"):
        cpu_suite.report(runs, str(out))
    (out / cpu_suite.SPEED).unlink()
    cpu_suite.report(runs, str(out))  # no speed file: no such columns
    assert "steps/s per thread" not in (out / "results.md").read_text()

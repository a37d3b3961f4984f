import json
import time
import warnings

import pytest
import torch

from helpers.core import cache


def test_hash_ignores_key_order_but_not_values():
    assert cache.config_hash({"a": 1, "b": 2}) == cache.config_hash({"b": 2, "a": 1})
    assert cache.config_hash({"a": 1}) != cache.config_hash({"a": 2})


def test_round_trip_and_reuse():
    calls = []

    def compute():
        calls.append(1)
        return {"w": torch.arange(3.0), "history": [{"epoch": 1, "loss": 0.5}]}

    first = cache.cached("demo", {"lr": 0.1}, compute)
    second = cache.cached("demo", {"lr": 0.1}, compute)
    assert len(calls) == 1 and torch.equal(first["w"], second["w"]) and second["history"][0]["loss"] == 0.5
    cache.cached("demo", {"lr": 0.2}, compute)
    assert len(calls) == 2


def test_corrupt_entry_is_recomputed_with_a_warning():
    config = {"k": 1}
    cache.save("demo", config, {"w": torch.ones(2)})
    data_path, _ = cache.entry_paths("demo", config)
    data_path.write_bytes(data_path.read_bytes()[:-7] + b"garbage")
    with pytest.warns(UserWarning, match="corrupt"):
        result = cache.cached("demo", config, lambda: {"w": torch.zeros(2)})
    assert torch.equal(result["w"], torch.zeros(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rewritten entry verifies cleanly
        assert torch.equal(cache.load("demo", config)["w"], torch.zeros(2))


def test_sidecar_for_another_config_is_not_trusted(monkeypatch):
    cache.save("demo", {"k": 1}, {"w": torch.ones(1)})
    monkeypatch.setattr(cache, "config_hash", lambda config: "collision")
    cache.save("demo", {"k": 1}, {"w": torch.ones(1)})
    with pytest.warns(UserWarning, match="differs"):
        assert cache.load("demo", {"k": 2}) is None


def test_interrupted_write_leaves_nothing(monkeypatch):
    def broken_save(obj, handle):
        handle.write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        cache.cached("demo", {"k": 3}, lambda: {"w": torch.ones(1)})
    data_path, meta_path = cache.entry_paths("demo", {"k": 3})
    assert not data_path.exists() and not meta_path.exists()
    left = [path.name for path in data_path.parent.iterdir()]
    assert left == [meta_path.with_suffix(cache.LOCK_SUFFIX).name]  # the entry's lock; no temporary file


def test_two_callers_of_a_missing_entry_compute_it_once():
    """The second waits on the entry's lock while the first computes, then reads what it stored."""
    import threading

    calls, results = [], []

    def compute():
        calls.append(threading.get_ident())
        time.sleep(0.5)   # long enough for the other caller to arrive while this one computes
        return {"w": torch.full((2,), 7.0)}

    callers = [threading.Thread(target=lambda: results.append(cache.cached("demo", {"k": 9}, compute)))
               for _ in range(2)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=30)
    assert len(calls) == 1, "computed once"
    assert len(results) == 2 and all(torch.equal(r["w"], torch.full((2,), 7.0)) for r in results)


def test_failed_computation_writes_nothing():
    with pytest.raises(RuntimeError):
        cache.cached("demo", {"k": 4}, lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert cache.load("demo", {"k": 4}) is None


def test_sidecar_records_the_cost_and_the_notebook(monkeypatch):
    monkeypatch.setenv(cache.NOTEBOOK_ENV_VAR, "04_demo")
    computed = []   # the clock reads 10 s until compute() has run, 12.5 s after (the lock reads it too)
    monkeypatch.setattr(cache.time, "perf_counter", lambda: 12.5 if computed else 10.0)
    cache.cached("demo", {"cost": 1}, lambda: computed.append(1) or {"w": torch.ones(1)})
    monkeypatch.delenv(cache.NOTEBOOK_ENV_VAR)
    cache.save("demo", {"cost": 2}, {"w": torch.ones(1)}, seconds=1.5)
    cache.save("other", {"cost": 3}, {"w": torch.ones(1)})  # no time known: counts as 0
    table = cache.cost_table().set_index(["notebook", "kind"])
    assert table.loc[("04_demo", "demo"), "seconds"] == pytest.approx(2.5)
    assert table.loc[("?", "demo"), "seconds"] == pytest.approx(1.5)
    assert table.loc[("?", "other"), "count"] == 1 and table.loc[("?", "other"), "seconds"] == 0


def test_tensor_digest_tells_values_shapes_and_dtypes_apart():
    a = torch.arange(6.0)
    assert cache.tensor_digest(a) == cache.tensor_digest(a.clone())
    assert cache.tensor_digest(a) != cache.tensor_digest(a.reshape(2, 3))          # same bytes, other shape
    assert cache.tensor_digest(a) != cache.tensor_digest(a.double())
    assert cache.tensor_digest(a, a) != cache.tensor_digest(a)
    b = a.clone()
    b[3] += 1e-6
    assert cache.tensor_digest(a) != cache.tensor_digest(b)
    assert cache.tensor_digest(a.reshape(2, 3).T) == cache.tensor_digest(a.reshape(2, 3).T.contiguous())


def test_a_link_out_of_the_cache_is_refused_and_nothing_is_written_there(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (cache.paths.cache_dir()).mkdir(parents=True)
    (cache.paths.cache_dir() / "demo").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(ValueError, match=r"resolves to .*elsewhere.*, outside the cache folder .*remove it"):
        cache.cached("demo", {"k": 1}, lambda: {"w": torch.ones(2)})
    assert list(elsewhere.iterdir()) == []


def test_an_entry_file_linked_out_of_the_cache_is_not_read(tmp_path):
    config = {"k": 1}
    cache.save("demo", config, {"w": torch.ones(2)})
    data_path, _ = cache.entry_paths("demo", config)
    foreign = tmp_path / "foreign.pt"
    data_path.replace(foreign)
    data_path.symlink_to(foreign)
    with pytest.raises(ValueError, match=r"foreign.pt, outside the cache folder .*remove it"):
        cache.load("demo", config)


def test_stale_temporary_files_are_removed_when_the_cache_is_opened(monkeypatch):
    import os
    import time

    folder = cache.paths.cache_dir() / "demo"
    folder.mkdir(parents=True)
    stale, fresh = folder / ".abc.pt.x1.tmp", folder / ".abc.pt.x2.tmp"
    stale.write_bytes(b"half"), fresh.write_bytes(b"in progress")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    monkeypatch.setattr(cache, "_swept", set())
    assert cache.load("demo", {"k": 1}) is None
    assert not stale.exists() and fresh.exists()   # a write of another process may still be running


def test_corrupt_entry_warnings_are_logged_for_the_pipeline(monkeypatch):
    monkeypatch.setenv(cache.NOTEBOOK_ENV_VAR, "03_attack_evaluation")
    cache.save("demo", {"k": 1}, {"w": torch.ones(2)})
    before = cache.warning_log_size()
    cache.entry_paths("demo", {"k": 1})[0].write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="corrupt"):
        assert cache.load("demo", {"k": 1}) is None
    [line] = cache.warnings_since(before)
    assert line.startswith("03_attack_evaluation: cache entry") and "(checksum mismatch); recomputing" in line


def test_the_pipeline_prints_cache_warnings_of_the_kernel(tmp_path, monkeypatch, capsys):
    import papermill

    from helpers.pipeline import run as pipeline

    def kernel_meets_a_corrupt_entry(*args, **kwargs):
        with pytest.warns(UserWarning):
            cache._warn_corrupt("cache entry abc.pt (demo) is corrupt (checksum mismatch); recomputing")

    monkeypatch.setattr(papermill, "execute_notebook", kernel_meets_a_corrupt_entry)
    pipeline.execute(tmp_path / "05_cem.ipynb", {}, tmp_path / "executed.ipynb", tmp_path / "staging")
    assert "cache warning: 05_cem: cache entry abc.pt (demo) is corrupt" in capsys.readouterr().err


def test_thread_count_and_device_type_are_part_of_the_key():
    calls = []

    def compute():
        calls.append(torch.get_num_threads())
        return {"w": torch.full((1,), float(len(calls)))}

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one_thread = cache.cached("demo", {"k": 5}, compute)
        torch.set_num_threads(2)
        two_threads = cache.cached("demo", {"k": 5}, compute)
        again = cache.cached("demo", {"k": 5}, compute)
        on_cuda = cache.cached("demo", {"k": 5}, compute, device="cuda:1")  # only its type is keyed
        _, meta_path = cache.entry_paths("demo", {"k": 5}, device="cuda")
    finally:
        torch.set_num_threads(threads)
    assert calls == [1, 2, 2]
    assert [t["w"].item() for t in (one_thread, two_threads, again, on_cuda)] == [1.0, 2.0, 2.0, 3.0]
    assert json.loads(meta_path.read_text())["config"]["environment"] == {"torch_threads": 2, "device": "cuda"}

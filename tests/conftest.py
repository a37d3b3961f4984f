import pytest


@pytest.fixture(autouse=True)
def isolated_state(tmp_path, monkeypatch):
    """Each test gets its own cache and figure folders, and no scale override."""
    monkeypatch.setenv("MIA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MIA_FIGURES_DIR", str(tmp_path / "figures"))
    monkeypatch.delenv("MIA_SCALE", raising=False)
    yield

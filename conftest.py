import pytest

from helpers.core.kernels import quiet_kernels


def pytest_configure(config):
    """Kernels started by nbval and the notebook tests read our quiet profile (helpers.core.kernels)."""
    quiet_kernels()


@pytest.fixture(autouse=True)
def isolated_state(tmp_path, monkeypatch):
    """Each test gets its own cache and figure folders, and no scale override."""
    monkeypatch.setenv("MIA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MIA_FIGURES_DIR", str(tmp_path / "figures"))
    monkeypatch.delenv("MIA_SCALE", raising=False)
    yield

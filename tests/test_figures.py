import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from helpers.pipeline.figures import image_grid, save  # noqa: E402


def make_figure():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    return fig


def test_save_writes_png_pdf_and_csv_deterministically(tmp_path):
    data = pd.DataFrame({"cut": ["a"], "mse": [0.1234567891]})
    paths = save(make_figure(), "00_demo", data=data, folder=tmp_path, caption="demo")
    assert sorted(p.name for p in paths) == ["00_demo.csv", "00_demo.pdf", "00_demo.png"]
    first = {p.name: p.read_bytes() for p in paths}
    save(make_figure(), "00_demo", data=data, folder=tmp_path, caption="demo")
    assert first == {p.name: p.read_bytes() for p in paths}   # no dates or versions inside
    assert b"CreationDate" not in first["00_demo.pdf"]
    assert pd.read_csv(tmp_path / "00_demo.csv")["mse"][0] == pytest.approx(0.123457)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_save_respects_the_staging_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MIA_FIGURES_DIR", str(tmp_path / "staged"))
    save(make_figure(), "01_demo", caption="demo")
    assert (tmp_path / "staged" / "01_demo.png").exists()


def test_a_run_outside_the_pipeline_never_writes_the_published_figures(tmp_path, monkeypatch, capsys):
    from helpers.pipeline import figures
    from helpers.core import paths

    published, unpublished = tmp_path / "figures", tmp_path / "build" / "figures"
    monkeypatch.setattr(paths, "FIGURES", published)
    monkeypatch.setattr(paths, "UNPUBLISHED_FIGURES", unpublished)
    monkeypatch.setattr(figures, "_announced", set())
    monkeypatch.delenv("MIA_FIGURES_DIR")   # a direct papermill or Jupyter run
    save(make_figure(), "00_demo", caption="demo")
    save(make_figure(), "00_other", caption="demo")
    assert (unpublished / "00_demo.png").exists() and (unpublished / "00_other.pdf").exists()
    assert not published.exists()
    said = capsys.readouterr().out
    assert said.count(str(unpublished)) == 1 and "make figures" in said   # where they went, once


def test_figure_ids_are_checked(tmp_path):
    with pytest.raises(ValueError, match="00_lower_case_name"):
        save(make_figure(), "Demo Figure", folder=tmp_path, caption="demo")


def test_image_grid_shape():
    fig = image_grid({"a": torch.rand(4, 1, 8, 8), "b": torch.rand(4, 3, 8, 8)}, n=4)
    assert len(fig.axes) == 8

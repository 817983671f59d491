"""xlc.plots: figures that render offline, and the transfer heatmap's controls."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from xlc import plots


def stack(langs, layers=3, seed=0):
    rng = np.random.default_rng(seed)
    S = len(langs)
    acc = rng.uniform(0.4, 1, (layers + 2, S, S))
    mono = np.stack([np.diag(a) for a in acc])
    delta = acc - mono[:, None, :]
    lo, hi = np.full(acc.shape, np.nan), np.full(acc.shape, np.nan)
    lo[:2], hi[:2] = delta[:2] - 0.05, delta[:2] + 0.05
    return {"languages": langs, "acc": acc, "mono": mono, "delta": delta, "delta_lo": lo, "delta_hi": hi,
            "n_test": np.full(S, 7.0), "steps": ["selected", "oracle"] + [str(k) for k in range(1, layers + 1)]}


def test_show_writes_no_script_source_and_a_stable_id():
    fig = go.Figure(go.Heatmap(z=[[1, 2], [3, 4]]))
    html = plots.show(fig).data
    assert "<script" in html and "Plotly.newPlot" in html
    assert "src=" not in html and "cdn" not in html.lower()
    assert plots.show(fig).data == html  # same figure, same page
    other = plots.show(go.Figure(go.Heatmap(z=[[1, 2], [3, 5]]))).data
    assert other.split('id="')[1][:20] != html.split('id="')[1][:20]


def test_transfer_heatmap_controls():
    stacks = {"run · mean": stack(["en", "fr", "zh"]), "run · morality": stack(["en", "fr", "zh", "sw"], seed=1)}
    stacks["run · morality"]["unseen"] = ["sw"]  # each option stars its own run's unseen languages
    fig = plots.transfer_heatmap(stacks, "Δ")
    assert len(fig.data) == 2 * 5  # (selected + oracle + 3 layers) per option
    assert [t.visible for t in fig.data].count(True) == 1 and fig.data[0].visible
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["run · mean", "run · morality"]
    # choosing morality shows its chosen-layer heatmap and swaps in morality's slider
    vis = buttons[1].args[0]["visible"]
    assert sum(vis) == 1 and vis.index(True) == 5
    slider = buttons[1].args[1]["sliders"][0]
    assert [s["label"] for s in slider["steps"]] == ["selected", "oracle", "1", "2", "3"]
    for k, step in enumerate(slider["steps"]):
        v = step["args"][0]["visible"]
        assert sum(v) == 1 and v.index(True) == 5 + k
    assert list(fig.data[5].x) == ["en", "fr", "zh", "sw*"]  # never seen by the family: starred
    t = fig.data[5 + 3]  # morality, layer 2
    m = stacks["run · morality"]
    assert np.allclose(t.z, m["delta"][3])
    assert np.allclose(np.asarray(t.customdata)[..., 0], m["acc"][3])
    assert np.allclose(np.asarray(t.customdata)[1, 2, 1], m["mono"][3][2])  # Acc(t) of column t
    assert "test pairs" in t.hovertemplate and "interval" not in t.hovertemplate  # no interval at a single layer
    chosen = fig.data[5]
    assert "95% interval of Δ" in chosen.hovertemplate
    marks = np.asarray(chosen.text)
    lo, hi = m["delta_lo"][0], m["delta_hi"][0]
    assert all(("▲" in marks[i, j]) == (lo[i, j] > 0) and ("▼" in marks[i, j]) == (hi[i, j] < 0)
               for i in range(4) for j in range(4))
    # one symmetric colour scale per option, the same at every layer of it
    assert t.zmin == -t.zmax == -np.abs(m["delta"]).max() and fig.data[5].zmax == t.zmax
    assert fig.data[0].zmax == np.abs(stacks["run · mean"]["delta"]).max()


def test_interval_dots_draw_each_run_with_its_interval_and_the_baselines():
    s = pd.DataFrame({"run": ["a", "a", "b", "b"], "language": ["en", "fr", "en", "fr"], "accuracy": [0.8, 0.7, 0.6, 0.5],
                      "lo": [0.7, 0.6, 0.5, 0.4], "hi": [0.9, 0.8, 0.7, 0.6], "length": [0.5, 0.52, 0.5, 0.52]})
    fig = plots.interval_dots(s, "t", {"length": "length rule", "missing": "not drawn"})
    assert [t.name for t in fig.data] == ["a", "b", "length rule"]
    assert np.allclose(fig.data[0].error_y.array, [0.1, 0.1]) and np.allclose(fig.data[1].error_y.arrayminus, [0.1, 0.1])


def test_heatmap_and_table_format_missing_values():
    m = pd.DataFrame([[0.5, np.nan], [0.25, 1.0]], index=["en", "fr"], columns=["a", "b"])
    fig = plots.heatmap(m, "t")
    assert list(fig.data[0].text[0]) == ["0.50", ""]
    html = plots.table(m).to_html()
    assert "–" in html and "0.25" in html
    assert plots.table(m).to_html() == html


def test_dropdown_shows_one_option_at_a_time():
    opts = {"a": [go.Scatter(y=[1]), go.Scatter(y=[2])], "b": [go.Scatter(y=[3])]}
    fig = plots.with_dropdown(opts, "T")
    assert [t.visible for t in fig.data] == [True, True, False]
    assert fig.layout.updatemenus[0].buttons[1].args[0]["visible"] == [False, False, True]

"""Figures of the book, as plotly figures, and :func:`show` to put one on a page that works offline.

Every builder takes the tables of :mod:`xlc.results` (matrices: DataFrames, sources as rows and
targets as columns; long tables: one row per measurement) and returns a ``plotly.graph_objects.Figure``.
Nothing here computes a result; it only draws.

:func:`show` renders a figure as an HTML fragment that calls the page's own ``plotly.min.js``
(the book serves it from its static files): plotly's default renderer under papermill writes a
MIME bundle that Jupyter Book drops, and ``notebook_connected`` loads plotly.js from a CDN.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import plotly.graph_objects as go

ACCURACY = dict(zmin=0.0, zmax=1.0, colorscale="Viridis")
COSINE = dict(zmin=-1.0, zmax=1.0, colorscale="RdBu", zmid=0.0)
TEMPLATE = "plotly_white"


def show(fig: go.Figure):
    """An ``IPython.display.HTML`` of ``fig`` without plotly.js (the page loads it), with a div id
    derived from the figure's content so that re-executing a notebook gives the same page."""
    from IPython.display import HTML

    div_id = "xlc-" + hashlib.sha256(fig.to_json().encode()).hexdigest()[:16]
    return HTML(fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                            config={"displaylogo": False, "responsive": True}))


def table(frame: pd.DataFrame, fmt: str = "{:.2f}", caption: str | None = None):
    """A pandas Styler of ``frame`` with numbers formatted and NaN shown as a dash; its HTML ids
    derive from the content, so re-executing a notebook gives the same page."""
    uid = hashlib.sha256(frame.to_json().encode() + str(caption).encode()).hexdigest()[:8]
    styler = frame.style.format(fmt, na_rep="–").set_uuid(uid)
    return styler.set_caption(caption) if caption else styler


def _labels(langs, unseen=()) -> list[str]:
    return [f"{l}*" if l in unseen else l for l in langs]


def _heatmap_trace(matrix: pd.DataFrame, fmt: str = ".2f", unseen=(), **kw) -> go.Heatmap:
    z = matrix.to_numpy(dtype=float)
    text = np.vectorize(lambda v: "" if np.isnan(v) else format(v, fmt))(z) if z.size else z
    return go.Heatmap(z=z, x=_labels(matrix.columns, unseen), y=_labels(matrix.index, unseen), text=text,
                      texttemplate="%{text}", hoverongaps=False, **kw)


def heatmap(matrix: pd.DataFrame, title: str, xlabel: str = "", ylabel: str = "", fmt: str = ".2f",
            scale: dict = ACCURACY, colorbar: str = "", unseen=()) -> go.Figure:
    """One annotated heatmap of ``matrix`` (rows drawn top to bottom)."""
    fig = go.Figure(_heatmap_trace(matrix, fmt, unseen, colorbar=dict(title=colorbar), **scale))
    fig.update_layout(title=title, template=TEMPLATE, height=120 + 32 * max(len(matrix.index), 4),
                      xaxis=dict(title=xlabel, side="bottom", type="category"),
                      yaxis=dict(title=ylabel, autorange="reversed", type="category"))
    return fig


def with_dropdown(options: dict[str, list], title: str, layouts: dict[str, dict] | None = None,
                  label: str = "") -> go.Figure:
    """A figure whose dropdown shows one option's traces at a time (the first option initially).

    ``options``: ``{option label: [traces]}``; ``layouts``: per option, layout changes applied with it.
    """
    fig = go.Figure()
    owner = []
    for i, traces in enumerate(options.values()):
        for tr in traces:
            tr.visible = i == 0
            fig.add_trace(tr)
            owner.append(i)
    buttons = []
    for i, name in enumerate(options):
        lay = {"title.text": f"{title}: {name}"} | (layouts or {}).get(name, {})
        buttons.append(dict(label=name, method="update", args=[{"visible": [o == i for o in owner]}, lay]))
    first = next(iter(options))
    fig.update_layout(title=f"{title}: {first}", template=TEMPLATE, margin=dict(t=110),
                      updatemenus=[dict(buttons=buttons, direction="down", x=1.0, xanchor="right", y=1.15,
                                        yanchor="top", showactive=True)] if len(options) > 1 else [],
                      annotations=[dict(text=label, x=1.0, xref="paper", xanchor="right", y=1.2, yref="paper",
                                        showarrow=False)] if label and len(options) > 1 else [])
    fig.update_layout(**(layouts or {}).get(first, {}))
    return fig


def heatmaps(matrices: dict[str, pd.DataFrame], title: str, xlabel: str = "", ylabel: str = "",
             fmt: str = ".2f", scale: dict = COSINE, colorbar: str = "", label: str = "") -> go.Figure:
    """Heatmaps of several matrices (e.g. one per run or concept) behind a dropdown named ``label``."""
    options = {k: [_heatmap_trace(m, fmt, colorbar=dict(title=colorbar), **scale)] for k, m in matrices.items()}
    n = max(len(m) for m in matrices.values())
    fig = with_dropdown(options, title, label=label)
    fig.update_layout(height=140 + 32 * max(n, 4), xaxis=dict(title=xlabel, type="category"),
                      yaxis=dict(title=ylabel, autorange="reversed", type="category"))
    return fig


def layer_curves(rec: pd.DataFrame, baseline: pd.DataFrame | None, title: str) -> go.Figure:
    """Recognition accuracy against layer, one line per language, one dropdown option per concept.

    ``rec``: columns concept (``"mean"`` included if wanted), language, layer, accuracy (and accuracy_lo,
    accuracy_hi: shown on hover);
    ``baseline``: columns concept, layer, accuracy, accuracy_std (averaged over languages), drawn as
    a grey band of mean +- 2 std.
    """
    options = {}
    for concept, g in rec.groupby("concept", sort=False):
        traces = []
        if baseline is not None and len(b := baseline[baseline.concept == concept]):
            lo, hi = b.accuracy - 2 * b.accuracy_std, b.accuracy + 2 * b.accuracy_std
            traces.append(go.Scatter(x=np.r_[b.layer, b.layer[::-1]], y=np.r_[hi, lo[::-1]], fill="toself", mode="lines",
                                     line=dict(width=0), fillcolor="rgba(120,120,120,0.25)",
                                     name="random directions (mean ± 2 sd)", hoverinfo="skip"))
            traces.append(go.Scatter(x=b.layer, y=b.accuracy, mode="lines", line=dict(color="grey", dash="dash"),
                                     name="random directions (mean)"))
        for lang, h in g.groupby("language", sort=False):
            iv = "accuracy_lo" in h and h.accuracy_lo.notna().any()
            traces.append(go.Scatter(
                x=h.layer, y=h.accuracy, mode="lines+markers", name=lang,
                customdata=np.stack([h.accuracy_lo, h.accuracy_hi], -1) if iv else None,
                hovertemplate=f"{lang}, layer %{{x}}: %{{y:.3f}}" + (" [%{customdata[0]:.3f}, %{customdata[1]:.3f}]"
                                                                      if iv else "") + "<extra></extra>"))
        options[concept] = traces
    fig = with_dropdown(options, title, label="concept")
    fig.update_layout(xaxis=dict(title="layer", dtick=1), yaxis=dict(title="accuracy", range=[0, 1.02]), height=460)
    return fig


def depth_curves(df: pd.DataFrame, group: str, title: str, ytitle: str = "mean cosine") -> go.Figure:
    """Lines of ``cosine`` against ``relative_depth``, one per value of column ``group``; a shaded band from
    ``cosine_lo`` to ``cosine_hi`` where the frame has them."""
    fig = go.Figure()
    for key, g in df.groupby(group, sort=False):
        if "cosine_lo" in g and g.cosine_lo.notna().all():
            fig.add_trace(go.Scatter(x=np.r_[g.relative_depth, g.relative_depth[::-1]],
                                     y=np.r_[g.cosine_hi, g.cosine_lo[::-1]], fill="toself", mode="lines",
                                     line=dict(width=0), opacity=0.2, showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=g.relative_depth, y=g.cosine, mode="lines+markers", name=str(key),
                                 customdata=g.layer, line=dict(width=4 if key == "mean" else 2),
                                 hovertemplate=f"{key}<br>layer %{{customdata}} (depth %{{x:.2f}}): "
                                               f"%{{y:.3f}}<extra></extra>"))
    fig.update_layout(title=title, template=TEMPLATE, height=440,
                      xaxis=dict(title="relative depth (layer / number of layers)", range=[0, 1.02]),
                      yaxis=dict(title=ytitle))
    return fig


def size_scatter(summary: pd.DataFrame, title: str) -> go.Figure:
    """Best-layer consistency against number of parameters (log axis), one marker per run."""
    s = summary.dropna(subset=["num_parameters"])
    fig = go.Figure(go.Scatter(x=s.num_parameters, y=s.best_layer_consistency, mode="markers+text",
                               text=s.run, textposition="top center", marker=dict(size=12),
                               hovertemplate="%{text}: %{x:.3s} parameters, consistency %{y:.3f}<extra></extra>"))
    fig.update_layout(title=title, template=TEMPLATE, height=420,
                      xaxis=dict(title="parameters", type="log"), yaxis=dict(title="best-layer consistency"))
    return fig


def transfer_heatmap(stacks: dict[str, dict], title: str) -> go.Figure:
    """Delta = Acc(s->t) - Acc(t) heatmaps, source x target, with a dropdown (run and concept) and a layer slider.

    ``stacks``: ``{option: {"languages": [S], **xlc.results.transfer_stack(...)}}`` (arrays ``acc``, ``delta``,
    ``delta_lo``, ``delta_hi`` ``[K, S, S]``, ``mono`` ``[K, S]``, ``n_test`` ``[S]``, ``steps``: K names, the
    per-pair layers first, ``unseen``: the languages the option's model never saw in pre-training). Hovering a cell
    shows Acc(s->t), Acc(t), Delta and its interval, and the test pairs of t; a cell whose interval lies above 0
    is marked ▲, below 0 ▼. Unseen languages are starred.
    """
    fig = go.Figure()
    owner = []  # (option index, slider step) of each trace
    for i, (name, s) in enumerate(stacks.items()):
        labels = _labels(s["languages"], s.get("unseen", ()))
        S = len(labels)
        # one symmetric colour scale per option, over all its layers: runs differ in how far Δ goes
        span = float(max(np.nanmax(np.abs(s["delta"])) if np.isfinite(s["delta"]).any() else 0.1, 0.05))
        for k, step in enumerate(s["steps"]):
            acc, delta, lo, hi = s["acc"][k], s["delta"][k], s["delta_lo"][k], s["delta_hi"][k]
            custom = np.stack([acc, np.broadcast_to(s["mono"][k], (S, S)), np.broadcast_to(s["n_test"], (S, S)), lo, hi],
                              -1)
            mark = np.where(lo > 0, " ▲", np.where(hi < 0, " ▼", ""))
            text = np.vectorize(lambda v, m: "" if np.isnan(v) else f"{v:+.2f}{m}")(delta, mark)
            layer = {"selected": "layer chosen without peeking", "oracle": "best layer on the test items (oracle)"}.get(
                step, f"layer {step}")
            interval = ("<br>95% interval of Δ: [%{customdata[3]:+.3f}, %{customdata[4]:+.3f}]"
                        if np.isfinite(lo).any() else "")
            fig.add_trace(go.Heatmap(
                z=delta, x=labels, y=labels, customdata=custom, zmin=-span, zmax=span, zmid=0.0,
                colorscale="RdBu", colorbar=dict(title="Δ"), hoverongaps=False, visible=(i == 0 and k == 0),
                text=text, texttemplate="%{text}", name=f"{name}, {layer}",
                hovertemplate=(f"{name}, {layer}<br>source %{{y}} → target %{{x}}<br>"
                               "Acc(s→t) = %{customdata[0]:.3f}<br>Acc(t) = %{customdata[1]:.3f}<br>"
                               "Δ = %{z:+.3f}" + interval + "<br>test pairs of t: %{customdata[2]:.0f}<extra></extra>")))
            owner.append((i, k))

    def slider(i: int, s: dict) -> dict:
        steps = [dict(label=step, method="restyle", args=[{"visible": [o == (i, k) for o in owner]}])
                 for k, step in enumerate(s["steps"])]
        return dict(active=0, steps=steps, currentvalue=dict(prefix="layer: "), pad=dict(t=40), x=0.0, len=1.0)

    sliders = [slider(i, s) for i, s in enumerate(stacks.values())]
    buttons = [dict(label=name, method="update",
                    args=[{"visible": [o == (i, 0) for o in owner]},
                          {"sliders": [sliders[i]], "title.text": f"{title}: {name}",
                           "xaxis.categoryarray": _labels(s["languages"], s.get("unseen", ())),
                           "yaxis.categoryarray": _labels(s["languages"], s.get("unseen", ()))}])
               for i, (name, s) in enumerate(stacks.items())]
    first, s0 = next(iter(stacks.items()))
    n = max(len(s["languages"]) for s in stacks.values())
    fig.update_layout(
        title=f"{title}: {first}", template=TEMPLATE, height=260 + 34 * max(n, 4), sliders=[sliders[0]],
        updatemenus=[dict(buttons=buttons, direction="down", x=1.0, xanchor="right", y=1.12, yanchor="top")],
        xaxis=dict(title="target language t", type="category", categoryorder="array",
                   categoryarray=_labels(s0["languages"], s0.get("unseen", ()))),
        yaxis=dict(title="source language s", type="category", autorange="reversed", categoryorder="array",
                   categoryarray=_labels(s0["languages"], s0.get("unseen", ()))))
    return fig


def interval_dots(summary: pd.DataFrame, title: str, baselines: dict[str, str] | None = None) -> go.Figure:
    """Per language, each run's value with its interval (columns language, run, accuracy, lo, hi), and the
    baselines (columns named in ``baselines``, ``{column: legend label}``) as small open markers."""
    fig = go.Figure()
    for run, g in summary.groupby("run", sort=False):
        fig.add_trace(go.Scatter(
            x=g.language, y=g.accuracy, mode="markers", name=str(run), marker=dict(size=9),
            error_y=dict(type="data", symmetric=False, array=g.hi - g.accuracy, arrayminus=g.accuracy - g.lo),
            customdata=np.stack([g.lo, g.hi], -1),
            hovertemplate=f"{run}, %{{x}}: %{{y:.3f}} [%{{customdata[0]:.3f}}, %{{customdata[1]:.3f}}]<extra></extra>"))
    first = summary[summary.run == summary.run.iloc[0]]
    for col, label in (baselines or {}).items():
        if col in summary:
            fig.add_trace(go.Scatter(x=first.language, y=first[col], mode="markers", name=label,
                                     marker=dict(symbol="line-ew-open", size=14, line=dict(width=2)),
                                     hovertemplate=f"{label}, %{{x}}: %{{y:.3f}}<extra></extra>"))
    fig.update_layout(title=title, template=TEMPLATE, height=460, xaxis=dict(title="language", type="category"),
                      yaxis=dict(title="accuracy", range=[0.3, 1.02]))
    return fig


def correlation_scatter(pairs: pd.DataFrame, kinds, title: str) -> go.Figure:
    """Consistency (cosine) against each kind's similarity, one dropdown option per kind;
    ``pairs`` from :func:`xlc.linguistics.pair_table`."""
    options = {}
    for k in kinds:
        text = pairs.a + "–" + pairs.b
        options[k] = [go.Scatter(x=pairs[k], y=pairs.cosine, mode="markers", text=text, name=k,
                                 hovertemplate="%{text}: similarity %{x:.2f}, cosine %{y:.3f}<extra></extra>")]
    fig = with_dropdown(options, title, label="distance")
    fig.update_layout(xaxis=dict(title="lang2vec similarity (1 - distance)"), yaxis=dict(title="cosine"), height=440)
    return fig

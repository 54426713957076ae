"""What the Experiments tab shows of a loss landscape (cnnzoo.landscape): contour plots side by side
on the same levels, 3-D surfaces on the same axes, the 1-D line from the initial to the trained
weights, a summary table, and the files to download.

Levels and colours are log-scaled: from the minimum to the edge of the grid the loss grows by
three or four orders of magnitude, and both networks must be readable in one colour bar.
Figures are matplotlib.figure.Figure (no pyplot: handlers run in threads).
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cnnzoo.files import atomic_write
from cnnzoo.landscape import Interpolation, Landscape

COLORS = ("tab:red", "tab:blue")  # the first network (plain), the second (residual)
LEVELS = 17


def shared_levels(results: list[Landscape]) -> np.ndarray:
    """Log-spaced contour levels from the lowest to the highest loss computed in any of `results`."""
    values = np.concatenate([r.loss.numpy().ravel() for r in results]) if results else np.array([])
    values = values[np.isfinite(values) & (values > 0)]
    low, high = (float(values.min()), float(values.max())) if len(values) else (0.01, 10.0)
    low = max(low, 1e-4)
    return np.geomspace(low, max(high, low * 10), LEVELS)


def contour_figure(named: list[tuple[str, Landscape | None]]) -> Figure:
    """One contour plot of f(α, β) per network, side by side, on the same log-spaced levels."""
    fig = Figure(figsize=(10, 4.6), layout="constrained")
    axes = fig.subplots(1, len(named), squeeze=False)[0]
    levels = shared_levels([r for _, r in named if r is not None and r.done])
    norm, filled = LogNorm(levels[0], levels[-1]), None
    for ax, (title, result) in zip(axes, named):
        ax.set_xlabel("α (along δ)")
        ax.set_ylabel("β (along η)")
        ax.set_aspect("equal")
        if result is None or result.done < 4:
            ax.text(0.5, 0.5, "not computed yet", ha="center", va="center", transform=ax.transAxes, color="grey")
            ax.set_title(title, fontsize="medium")
            continue
        alphas, betas = result.alphas.numpy(), result.betas.numpy()
        loss = np.ma.masked_invalid(result.loss.numpy())
        filled = ax.contourf(alphas, betas, loss, levels=levels, norm=norm, cmap="viridis", extend="both")
        ax.contour(alphas, betas, loss, levels=levels, colors="white", linewidths=0.4, alpha=0.6)
        ax.plot([0], [0], marker="*", markersize=12, color="red", markeredgecolor="white", linestyle="none")
        ax.set_xlim(alphas[0], alphas[-1])
        ax.set_ylim(betas[0], betas[-1])
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.yaxis.set_major_locator(MaxNLocator(5))
        done = "" if result.complete else f" ({result.done}/{result.points} points)"
        ax.set_title(f"{title}: L(θ*) = {result.centre_loss:.3g}{done}", fontsize="medium")
    if filled is not None:
        bar = fig.colorbar(filled, ax=list(axes), shrink=0.9, label="loss (cross-entropy, log scale)")
        bar.set_ticks([t for t in (0.01, 0.1, 1, 10, 100, 1000, 10000) if levels[0] <= t <= levels[-1]])
    fig.suptitle("f(α, β) = L(θ* + αδ + βη), filter-normalised directions (Li et al. 2018) · ★ the trained weights",
                 fontsize="medium")
    return fig


def surface_figure(named: list[tuple[str, Landscape | None]]) -> Figure:
    """The same landscapes as 3-D surfaces of log₁₀ loss, on the same z axis."""
    fig = Figure(figsize=(10, 4.6), layout="constrained")
    levels = shared_levels([r for _, r in named if r is not None and r.done])
    low, high = math.log10(levels[0]), math.log10(levels[-1])
    for k, (title, result) in enumerate(named, 1):
        ax = fig.add_subplot(1, len(named), k, projection="3d")
        ax.set_title(title, fontsize="medium")
        if result is None or not result.complete:  # a few points near the centre make a spike, not a surface
            ax.text2D(0.5, 0.5, "drawn when the whole grid is computed", ha="center", transform=ax.transAxes,
                      color="grey")
            ax.set_axis_off()
            continue
        a, b = np.meshgrid(result.alphas.numpy(), result.betas.numpy())
        z = np.log10(np.clip(result.loss.numpy(), levels[0], None))  # NaN (not computed) leaves a hole
        ax.plot_surface(a, b, z, cmap="viridis", vmin=low, vmax=high, rstride=1, cstride=1, linewidth=0,
                        antialiased=False)
        ax.set_zlim(low, high)
        for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
            axis.set_major_locator(MaxNLocator(5))
        ax.tick_params(labelsize="small")
        ax.set_xlabel("α")
        ax.set_ylabel("β")
        ax.set_zlabel("log₁₀ loss")
        ax.view_init(elev=35, azim=-60)
    fig.suptitle("the same landscapes as surfaces: log₁₀ loss, same axes", fontsize="medium")
    return fig


def line_figure(named: list[tuple[str, Interpolation | None]]) -> Figure:
    """Loss (log scale) and accuracy along θ(t) = (1 − t)·θ_0 + t·θ* for each network."""
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    ax = fig.subplots()
    accuracy_ax = ax.twinx()
    notes = []
    for color, (title, line) in zip(COLORS, named):
        if line is None:
            continue
        ax.semilogy(line.ts.numpy(), line.loss.numpy(), "-", color=color, label=f"{title}: loss")
        accuracy_ax.plot(line.ts.numpy(), 100 * line.accuracy.numpy(), ":", color=color, label=f"{title}: accuracy")
        if not line.exact_start:
            notes.append(f"{title}: θ_0 is a fresh initialisation (seed 0), not its run's own")
    if not any(line is not None for _, line in named):
        ax.text(0.5, 0.5, "computed after each network's whole grid", ha="center", va="center",
                transform=ax.transAxes, color="grey")
        ax.set_xlim(-0.6, 1.6)
    for t, text in ((0, "θ_0 (initial)"), (1, "θ* (trained)")):
        ax.axvline(t, color="grey", linestyle="--", linewidth=0.8)
        ax.text(t, 1.01, text, transform=ax.get_xaxis_transform(), ha="center", fontsize="small")
    ax.set_xlabel("t in θ(t) = (1 − t)·θ_0 + t·θ*")
    ax.set_ylabel("loss (log scale)")
    accuracy_ax.set_ylabel("accuracy % (dotted)")
    accuracy_ax.set_ylim(0, 100)
    handles = ax.get_legend_handles_labels()[0] + accuracy_ax.get_legend_handles_labels()[0]
    if handles:  # below the axes: the curves fill the plot from corner to corner
        fig.legend(handles=handles, loc="outside lower center", fontsize="small", ncols=4)
    ax.grid(True, alpha=0.3)
    title = "the straight line from the initial to the trained weights (BatchNorm statistics interpolated too)"
    ax.set_title(title + ("\n" + "; ".join(notes) if notes else ""), fontsize="medium", pad=16)
    return fig


def _number(value: float) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.3g}"


def summary_text(named: list[tuple[str, Landscape | None]], lines: dict[str, Interpolation | None]) -> str:
    """A table of the numbers behind the pictures (Markdown)."""
    shown = [(title, r) for title, r in named if r is not None]
    if not shown:
        return ""
    span = float(shown[0][1].alphas[-1])
    header = "| | " + " | ".join(f"**{title}**" for title, _ in shown) + " |\n|---|" + "---:|" * len(shown)
    rows = [("loss at θ\\* (the centre)", lambda r: _number(r.centre_loss)),
            ("accuracy at θ\\*", lambda r: f"{float(r.accuracy[len(r.alphas) // 2, len(r.alphas) // 2]):.1%}")]
    rows += [(f"mean loss at distance {radius:g}", lambda r, radius=radius: _number(r.mean_loss_at(radius)))
             for radius in (0.5 * span, span)]
    rows += [("sharpness: ∂²f/∂α² + ∂²f/∂β² at θ\\*", lambda r: _number(r.sharpness())),
             ("points computed", lambda r: f"{r.done} / {r.points}" + (f" ({r.stopped})" if r.stopped else "")),
             ("seconds", lambda r: f"{r.seconds:.1f}")]
    table = "\n".join(f"| {label} | " + " | ".join(cell(r) for _, r in shown) + " |" for label, cell in rows)
    first = shown[0][1]
    ends = [f"{title} {_number(float(line.loss[-1]))} at t = {float(line.ts[-1]):g}"
            for title, line in lines.items() if line is not None]
    line_note = f" Along the line from θ_0: loss {', '.join(ends)}." if ends else ""
    return (f"{header}\n{table}\n\nL is the mean cross-entropy on the same {first.images} test images at every point; "
            f"directions δ, η from seeds {first.seeds[0]} and {first.seeds[1]} for both networks, BatchNorm/bias "
            f"directions: *{first.bn}*. Distances are in units of the filters' own norms.{line_note}")


def figure_png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def save_files(folder: Path, stem: str, named: list[tuple[str, Landscape | None]], lines: dict,
               figures: dict[str, Figure]) -> list[str]:
    """<stem>.npz (the grids, their axes and the 1-D lines) and one .png per figure, written atomically."""
    arrays = {}
    for k, (title, result) in enumerate(named):
        if result is not None:
            arrays.update({f"net{k}_alphas": result.alphas.numpy(), f"net{k}_betas": result.betas.numpy(),
                           f"net{k}_loss": result.loss.numpy(), f"net{k}_accuracy": result.accuracy.numpy(),
                           f"net{k}_seeds": np.array(result.seeds), f"net{k}_name": np.array(title)})
        line = lines.get(title)
        if line is not None:
            arrays.update({f"net{k}_line_t": line.ts.numpy(), f"net{k}_line_loss": line.loss.numpy(),
                           f"net{k}_line_accuracy": line.accuracy.numpy()})
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    paths = [atomic_write(folder / f"{stem}.npz", buffer.getvalue(), durable=False)]
    paths += [atomic_write(folder / f"{stem}-{name}.png", figure_png(fig), durable=False) for name, fig in figures.items()]
    return [str(p) for p in paths]

"""The feature stage's section of ``report.md``: spec, split, fixes, cost on each target,
tabular selection stability, and the candidates a joint search tried."""

from __future__ import annotations

from typing import Any

__all__ = ["render_features_markdown"]


def render_features_markdown(report: dict[str, Any]) -> str:
    feat = report.get("features")
    if not feat:
        return ""
    split = feat.get("split", {})
    lines = ["", "## Feature stage", "",
             f"- features: {feat.get('describe', '')} (`edgeml_features.c`: "
             "`edgeml_features(raw, out)` -> the model's int8 input)",
             f"- split by {split.get('unit', 'recording')}: {split.get('train')}/{split.get('val')}/"
             f"{split.get('test')} train/val/test"
             + (" (test: held-out recordings)" if split.get("held_out_test") else "")]
    sel = feat.get("selection")
    if sel:
        lines.append(f"- tabular selection: {sel['k']} of {sel['candidates']} constructed terms, "
                     f"stability {sel['stability']:.3f} (Nogueira et al. 2018), validation "
                     f"accuracy {sel['accuracy']:.3f}")
    for fix in feat.get("fixes", []):
        lines.append(f"- fixed: {fix}")
    lines += ["", "| target | RAM (buffers) | flash (tables + code) | cycles | latency (estimate) |",
              "|---|---|---|---|---|"]
    for name, c in (feat.get("cost") or {}).items():
        lines.append(f"| {name} | {c['ram_bytes']} B | {c['flash_bytes']} B ({c['table_bytes']} + "
                     f"{c['code_bytes']}) | {c['cycles']:,} | {c['latency_ms']:.3f} ms |")
    fsr = report.get("feature_search")
    if fsr:
        lines += ["", f"Feature kinds searched with the model ({fsr['trials_per_candidate']} "
                      f"trial(s) each, objective {fsr['objective']}; costs include the feature "
                      "stage):", "",
                  "| kind | int8 val acc | int8 test acc | flash (model + features) | latency |",
                  "|---|---|---|---|---|"]
        for r in fsr["candidates"]:
            if r["status"] != "trained":
                lines.append(f"| {r['kind']} | {r['status']} | | | |")
                continue
            c = r["costs"]
            mark = " (chosen)" if r.get("chosen") else ""
            lines.append(f"| {r['kind']}{mark} | {r['int8_val_accuracy']:.4f} | "
                         f"{r['int8_test_accuracy']:.4f} | {c['model_bytes'] / 1024:.1f} KB | "
                         f"{c['latency_ms']:.2f} ms |")
        tuned = [(r["kind"], v) for r in fsr["candidates"] for v in r.get("variants") or ()]
        if tuned:
            lines += ["", "Each kind's parameters, chosen before its network search by a fast "
                          "proxy (extremely randomised trees on the features, validation "
                          "accuracy; ties within half a point go to the cheaper stage):", "",
                      "| kind | variant | proxy val acc | feature latency | flash | RAM |",
                      "|---|---|---|---|---|---|"]
            for kind, v in tuned:
                acc = (f"{v['proxy_val_accuracy']:.4f}" if v.get("proxy_val_accuracy") is not None
                       else f"not tried: {v.get('reason', '')}")
                mark = " (chosen)" if v.get("chosen") else ""
                lines.append(f"| {kind} | {v['describe']}{mark} | {acc} | "
                             f"{v['latency_ms']:.3f} ms | {v['flash_bytes']} B | "
                             f"{v['ram_bytes']} B |")
    return "\n".join(lines) + "\n"

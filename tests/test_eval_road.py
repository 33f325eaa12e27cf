"""The road-loitering ground truth (streams/road.yaml + vtest-road.truth.yaml) with the bundled model.

People cross the road band all the time: a person dwell rule must open a case only for someone who
stays. Before dwell required the same object to stay, this rule set opened 49 person cases on the
clip (precision 0.06); now exactly the three listed in the truth file (docs/rules.md). The lawn stone
is a detector false positive: after the platform rejects its cases (wrong_object), a second replay
opens none for it and still every other expected case.
"""

from __future__ import annotations

import contextlib
import io
import json

from edge.cli import main
from edge.i18n import translate

from conftest import STREAMS


def test_no_walker_becomes_a_loitering_case(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("EDGE_LANG", "zh-CN")  # a city tester's console: the tables in Simplified Chinese
    out = tmp_path / "eval"
    args = ["eval", "--config", str(STREAMS / "road.yaml"), str(STREAMS / "vtest-road.truth.yaml"), "--out", str(out)]
    args += ["--min-precision", "1", "--min-recall", "1", "--max-duplicates", "0", "--verdicts", "marked"]
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        code = main(args)
    assert code == 0, printed.getvalue()
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    loitering, parked = report["classes"]["0501"], report["classes"]["0505"]
    assert (loitering["true_positives"], loitering["false_positives"], loitering["duplicates"]) == (3, 0, 0)
    assert (parked["true_positives"], parked["false_positives"]) == (2, 0)
    assert parked["latency_s"]["all"] == [20.0, 20.0]  # the parked vehicles' timing is unchanged
    after = report["after_verdicts"]
    [clip] = after["clips"]
    assert len(clip["rejected"]) == 2 and after["passed"]  # the stone's two cases (10 s and 20 s rules)
    assert sorted(m["expected"] for m in clip["matches"]) == ["blue-car", "man-talking-10s", "white-van"]
    assert clip["false_positives"] == [] and clip["misses"] == []
    console = printed.getvalue()
    assert "按事件类别的评估" in console and "用时（秒）" in console and "报告：" in console
    assert "按平台核查结论" in console


def test_gate_failures_read_in_chinese() -> None:
    failure = "event 0501: precision 0.500 < --min-precision 1"
    assert translate(failure, "zh-CN") == "事件 0501：精确率 0.500 < --min-precision 1"
    fault = "device fault covered: recall 0.000 < --min-recall 1"
    assert translate(fault, "zh-CN") == "设备故障 遮挡：召回率 0.000 < --min-recall 1"

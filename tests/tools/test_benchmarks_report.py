"""BENCHMARKS.md is written by hand; `make bench` (benchmarks/report.py) fills only the text between
its `<!-- bench:NAME:begin/end -->` markers: the measured tables and the "Targets at a glance"
table, whose measured cells must agree with the sections' figures."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from benchmarks import report
from benchmarks.__main__ import MODULES

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
RESULTS_JSON = ROOT / "benchmarks" / "results.json"

MARKERS = re.compile(
    r"^(<!-- bench:([\w.]+):begin -->)\n.*?^(<!-- bench:\2:end -->)$", re.DOTALL | re.MULTILINE
)


def fake_results() -> dict[str, Any]:
    """One result per benchmark, with figures no real run produced."""
    return {
        "webhook": {
            "cost": {
                "body_bytes": 4135,
                "handler_us": 333.3333,
                "processor_us": 190.0,
                "wrapper_us": 143.3333,
                "json_loads_us": 21.0,
                "ratio": 15.873,
                "floor_us": 44.4,
                "floor_ratio": 2.114,
            },
            "import": {
                "boto3_ms": 301.0,
                "handler_ms": 512.5,
                "ratio": 1.703,
                "dependencies_ms": 540.0,
                "dependencies_ratio": 1.794,
                "handler_to_dependencies": 0.949,
                "used_dependencies_ms": 470.0,
                "handler_to_used_dependencies": 1.0904,
                "handler_untraced_ms": 600.0,
                "ratio_untraced": 1.99,
                "xray_sdk_alone_ms": 120.0,
            },
            "cold_start": {
                "init_ms": 1234.56,
                "first_request_ms": 66.6,
                "cold_total_ms": 1301.16,
                "warm_request_ms": 14.2,
                "prime_ms": 180.0,
                "first_request_after_prime_ms": 40.1,
            },
            "machine": {"cpus": 2, "load_average": 3.0},
            "_seconds": 200.0,
        },
        "sanitizer": {
            "record_bytes": 4445,
            "sanitize_us": 61.0,
            "datamasking_erase_us": 4880.0,
            "ratio_sanitize_to_erase": 0.0125,
            "sanitize_mib_per_s": 69.5,
            "_seconds": 20.0,
        },
        "deletion_throughput": {
            "v1_ceiling_per_second": 50.0,
            "v2_target_per_second": 1000.0,
            "v1": {"requests": 1000, "batch_size": 10, "rate": 47.3, "status_429": 0, "cpu_share": {}},
            "v2": {
                "requests": 4000,
                "batch_size": 100,
                "rate": 1555.55,
                "status_429": 2,
                "cpu_share": {"audit store": 0.5, "parsing": 0.03, "track client": 0.04},
            },
            "v2_over_v1_ceiling": 31.1,
            "v2_over_v1_measured": 32.9,
            "_seconds": 30.0,
        },
        "verification_throughput": {
            "ids_checked": 10000,
            "ids_verified": 10000,
            "ids_per_second": 912.3,
            "ids_ceiling_per_second": 1000.0,
            "ids_fraction_of_ceiling": 0.9123,
            "ids_429s": 0,
            "emails_429s": 0,
            "_seconds": 40.0,
        },
        "layer_size": {
            "unzipped_mib": 14.26,
            "zipped_mib": 4.5,
            "fraction_of_lambda_limit": 0.0567,
            "largest_packages_mib": {"pydantic_core": 4.6},
            "_seconds": 1.0,
        },
    }


def fake_runs() -> dict[str, Any]:
    run = {"date": "2031-01-02 03:04 UTC", "python": "3.13.9", "arch": "aarch64", "cpus": 2}
    return {name: {**run, "load_average": [1.25, 3.5]} for name in fake_results()}


def outside_markers(text: str) -> str:
    """The text with every block's content removed (the markers stay)."""
    return MARKERS.sub(r"\1\n\3", text)


def blocks(text: str) -> dict[str, str]:
    return {m.group(2): m.group(0) for m in MARKERS.finditer(text)}


@pytest.fixture
def copies(tmp_path: Path) -> tuple[Path, Path]:
    """Copies of BENCHMARKS.md and results.json to fill."""
    md, raw = tmp_path / "BENCHMARKS.md", tmp_path / "results.json"
    shutil.copyfile(BENCHMARKS_MD, md)
    shutil.copyfile(RESULTS_JSON, raw)
    return md, raw


@pytest.fixture
def rendered(copies: tuple[Path, Path]) -> str:
    md, raw = copies
    report.update(fake_results(), fake_runs(), report=md, raw=raw)
    return md.read_text(encoding="utf-8")


def test_only_the_text_between_markers_changes(copies: tuple[Path, Path], rendered: str) -> None:
    before = BENCHMARKS_MD.read_text(encoding="utf-8")
    assert outside_markers(rendered) == outside_markers(before)
    changed = {name for name, block in blocks(rendered).items() if block != blocks(before)[name]}
    assert changed == set(report.block_names(MODULES))
    assert "| handler per request (µs, median) | 333.3 |" in rendered
    assert "Measured on 2031-01-02 at 03:04 UTC (Python 3.13.9, aarch64; 200 s; load average" in rendered
    # The other figures are merged into results.json, not replaced by the run's alone.
    data = json.loads(copies[1].read_text(encoding="utf-8"))
    assert data["results"]["webhook"]["cost"]["handler_us"] == 333.3333
    assert data["meta"]["runs"]["layer_size"]["arch"] == "aarch64"
    # Filling again from the same figures changes nothing.
    report.write_report(copies[0], data, MODULES)
    assert copies[0].read_text(encoding="utf-8") == rendered


def test_one_benchmark_fills_its_blocks_and_the_glance_only(copies: tuple[Path, Path]) -> None:
    md, raw = copies
    before = md.read_text(encoding="utf-8")
    webhook, run = fake_results()["webhook"], fake_runs()["webhook"]
    report.update({"webhook": webhook}, {"webhook": run}, report=md, raw=raw)
    after = md.read_text(encoding="utf-8")
    assert outside_markers(after) == outside_markers(before)
    changed = {name for name, block in blocks(after).items() if block != blocks(before)[name]}
    assert changed == {"glance", "webhook.measured", "webhook.cost", "webhook.import", "webhook.cold_start"}
    data = json.loads(raw.read_text(encoding="utf-8"))
    assert (
        data["results"]["deletion_throughput"]
        == json.loads(RESULTS_JSON.read_text())["results"]["deletion_throughput"]
    )


def _table_rows(block: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in block.splitlines()
        if line.startswith("|") and not line.startswith("|---")
    ]


def _numbers(cell: str) -> list[tuple[float, int]]:
    """Each number in the cell, with its count of decimals."""
    return [
        (float(n.replace(",", "")), len(n.partition(".")[2])) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", cell)
    ]


# Each at-a-glance figure a benchmark produces: the block and the row (label prefix) it summarises,
# and the column of that row holding the figure.
GLANCE_SOURCES = {
    "webhook handler per request": [("webhook.cost", "**handler as a multiple of the floor**", 1)],
    "webhook handler cold import": [
        ("webhook.import", "**handler as a multiple of the required libraries**", 1)
    ],
    "webhook Init phase": [("webhook.cold_start", "Init: the handler's import", 1)],
    "webhook first request after Init": [("webhook.cold_start", "first request (ms, median", 1)],
    "sanitizer against Powertools": [("sanitizer", "**times faster than `DataMasking.erase`**", 1)],
    "erasures per second": [("deletion_throughput", "**erasures per second**", 2)],
    "erasure checks per second": [("verification_throughput", "**fraction of the ceiling**", 1)],
    "shared layer, unzipped": [
        ("layer_size", "unzipped (MiB)", 1),
        ("layer_size", "fraction of Lambda's 250 MB limit", 1),
    ],
}


def _glance_rows(text: str) -> dict[str, list[str]]:
    return {row[0]: row for row in _table_rows(blocks(text)["glance"])[1:]}


def test_glance_measured_cells_equal_the_sections_figures(rendered: str) -> None:
    sections = blocks(rendered)
    glance = _glance_rows(rendered)
    checked = set()
    for figure, row in glance.items():
        sources = next((s for prefix, s in GLANCE_SOURCES.items() if figure.startswith(prefix)), None)
        if sources is None:
            continue  # measured by the test suite (card detection), not by a benchmark
        measured = _numbers(row[2])
        assert len(measured) == len(sources), row
        for (value, decimals), (block, label, column) in zip(measured, sources, strict=True):
            section_row = next(r for r in _table_rows(sections[block]) if r[0].startswith(label))
            ((section_value, section_decimals),) = _numbers(section_row[column])
            tolerance = 0.5 * 10**-decimals + 0.5 * 10**-section_decimals
            assert abs(value - section_value) <= tolerance, (figure, row[2], section_row)
        checked.add(figure)
    assert len(checked) == sum(len(s) for s in GLANCE_SOURCES.values()) - 1  # the layer has two figures
    met = {figure.split(",")[0]: row[3] for figure, row in glance.items()}
    assert met == {
        "webhook handler per request": "no",  # 7.51x, target at most 5x
        "webhook handler cold import": "yes",
        "webhook Init phase (cold import in a Lambda-like environment)": "no",  # 1,235 ms
        "webhook first request after Init": "yes",
        "sanitizer against Powertools `DataMasking.erase` on the same record": "yes",  # 80x
        "card-number recall": "yes",
        "card-number false positives": "yes",
        "erasures per second": "no",  # two 429s
        "erasure checks per second": "yes",
        "shared layer": "",
    }
    assert glance["webhook handler per request, as a multiple of the unavoidable work"][2] == "7.51x"


def test_glance_why_texts_are_kept(rendered: str) -> None:
    before = _glance_rows(BENCHMARKS_MD.read_text(encoding="utf-8"))
    after = _glance_rows(rendered)
    assert list(after) == list(before)
    for figure, row in after.items():
        assert row[1] == before[figure][1], figure  # target
        if not figure.startswith("webhook handler per request"):  # its why quotes the run's figures
            assert row[4] == before[figure][4], figure


@pytest.mark.parametrize("marker", ["begin", "end"])
def test_a_missing_marker_is_an_error_naming_the_block(copies: tuple[Path, Path], marker: str) -> None:
    md, raw = copies
    md.write_text(md.read_text(encoding="utf-8").replace(f"<!-- bench:webhook.cost:{marker} -->\n", ""))
    before_md, before_raw = md.read_text(encoding="utf-8"), raw.read_text(encoding="utf-8")
    with pytest.raises(report.MarkerError, match=r"webhook\.cost"):
        report.update(fake_results(), fake_runs(), report=md, raw=raw)
    assert md.read_text(encoding="utf-8") == before_md  # nothing written, neither file
    assert raw.read_text(encoding="utf-8") == before_raw
    with pytest.raises(report.MarkerError, match=r"webhook\.cost"):
        report.check_markers(before_md, report.block_names(["webhook"]))
    report.check_markers(before_md, report.block_names(["layer_size"]))  # other benchmarks still run


def test_a_duplicated_marker_is_an_error(copies: tuple[Path, Path]) -> None:
    twice = "\n<!-- bench:layer_size:begin -->\n<!-- bench:layer_size:end -->\n"
    text = copies[0].read_text(encoding="utf-8") + twice
    with pytest.raises(report.MarkerError, match="layer_size"):
        report.fill(text, {"layer_size": ""})


def test_the_real_report_has_every_block_a_run_needs() -> None:
    assert set(MODULES) == set(report.BLOCKS)
    report.check_markers(BENCHMARKS_MD.read_text(encoding="utf-8"), report.block_names(MODULES))


def test_the_real_report_shows_what_results_json_holds() -> None:
    """The blocks are what `make bench` would write from results.json: no hand edits inside them."""
    text = BENCHMARKS_MD.read_text(encoding="utf-8")
    data = json.loads(RESULTS_JSON.read_text(encoding="utf-8"))
    assert report.fill(text, report.render_blocks(data, data["results"])) == text

"""Issue 18's measured corpus: card numbers in the formats their networks issue, and the product
codes and order numbers that a card detector must leave alone. Deterministic (a seeded generator),
built from this directory's own network table (``samples.CARD_NETWORKS``), not the detector's.

``measure()`` runs ``cio_security``'s detector on it and returns the recall of each network and the
false-positive rate of each family; test_card_networks.py asserts the targets on it, and
``python -m unit.sanitizer.card_corpus`` (with ``tests`` and ``layers/shared`` on ``PYTHONPATH``)
prints the table BENCHMARKS.md shows.

Card forms, each ``SIZE`` numbers per network:

- ``plain``: the digits alone (``4111111111111111``);
- ``grouped``: in the network's print grouping (4-4-4-4, 4-6-5 for American Express, 4-6-4 for
  14-digit Diners Club, 4-4-4-4-3 for 19 digits), spaces or dashes;
- ``in text``: plain or grouped inside a sentence (``paid with 4111 1111 1111 1111, thanks``).

False-positive families, ``SIZE`` values each:

- ``EAN-13``: a GS1 prefix (each prefix GS1 has allocated to a member organisation or a use,
  equally likely; ISBN and ISSN apart), random digits, the GS1 check digit; also Germany's
  400-440 and the UK's 500-509 alone, the prefixes that share a card network's first digits;
- ``ISBN-13``: 978 or 979, random digits, the check digit;
- ``UPC-A``: a number-system digit 0-9, random digits, the check digit (12 digits);
- ``order numbers``: Amazon-style ``1NN-NNNNNNN-NNNNNNN``, Unix times in milli-, micro- and
  nanoseconds (2001-2033), snowflake ids (Twitter's epoch), date-prefixed order numbers
  (``YYYYMMDD`` and 4-8 digits), zero-padded sequence numbers (13-16 digits), and 15-digit IMEIs
  (Luhn-valid device ids: reporting bodies 01, 35, 86, 99).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from unittest.mock import patch

from unit.sanitizer.samples import CARD_NETWORKS, MEASURED_NETWORKS, luhn_complete

SIZE = 2000
SEED = 18

# GS1 prefixes, as ranges of three digits: member organisations and restricted-distribution uses
# (in-store numbers, coupons excepted); ISBN (978-979) and ISSN (977) are their own family.
GS1_PREFIXES = (
    (0, 139), (200, 299), (300, 379), (380, 380), (383, 383), (385, 385), (387, 387), (389, 390),
    (400, 440), (450, 459), (460, 469), (470, 471), (474, 489), (490, 499), (500, 509), (520, 521),
    (528, 531), (535, 535), (539, 549), (560, 560), (569, 579), (590, 590), (594, 594), (599, 601),
    (603, 604), (608, 609), (611, 611), (613, 613), (615, 616), (618, 629), (640, 649), (690, 709),
    (729, 746), (750, 750), (754, 755), (759, 771), (773, 773), (775, 775), (777, 780), (784, 784),
    (786, 786), (789, 790), (800, 850), (858, 860), (865, 865), (867, 880), (883, 885), (888, 888),
    (890, 890), (893, 893), (896, 896), (899, 919), (930, 951), (955, 955), (958, 958),
)  # fmt: skip
GROUPINGS = {15: (4, 6, 5), 14: (4, 6, 4)}
SEPARATORS = (" ", "-")
SENTENCES = (
    "paid with {}, thanks",
    "card:{} exp 12/29",
    "Please charge {} for order 1042.",
    "{}",
    "ref ({}) noted",
)


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def gtin_complete(body: str) -> str:
    """``body`` plus its GS1 check digit (weights 3, 1, 3... from the right of the body)."""
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body)))
    return body + str(-total % 10)


def card_number(rng: random.Random, network: str) -> str:
    """A number ``network`` issues: one of its prefixes and lengths, random digits, Luhn."""
    prefixes, lengths = rng.choice(CARD_NETWORKS[network])
    prefix, length = rng.choice(prefixes), rng.choice(lengths)
    return luhn_complete(prefix + _digits(rng, length - 1 - len(prefix)))


def legacy_visa_13(rng: random.Random) -> str:
    """A 13-digit Visa number (a legacy length)."""
    return luhn_complete("4" + _digits(rng, 11))


def grouped(number: str, separator: str) -> str:
    sizes = GROUPINGS.get(len(number)) or (4,) * (len(number) // 4) + (
        (len(number) % 4,) if len(number) % 4 else ()
    )
    parts, start = [], 0
    for size in sizes:
        parts.append(number[start : start + size])
        start += size
    return separator.join(parts)


def spellings(rng: random.Random, number: str) -> dict[str, str]:
    """The three forms of one card number."""
    form = grouped(number, rng.choice(SEPARATORS))
    return {
        "plain": number,
        "grouped": form,
        "in text": rng.choice(SENTENCES).format(rng.choice((number, form))),
    }


def ean13(rng: random.Random, ranges: tuple[tuple[int, int], ...] = GS1_PREFIXES) -> str:
    prefixes = [p for low, high in ranges for p in range(low, high + 1)]
    return gtin_complete(f"{rng.choice(prefixes):03d}" + _digits(rng, 9))


def isbn13(rng: random.Random) -> str:
    return gtin_complete(rng.choice(("978", "979")) + _digits(rng, 9))


def upc_a(rng: random.Random) -> str:
    return gtin_complete(_digits(rng, 11))


def order_number(rng: random.Random) -> str:
    """One order-number-like value, of a kind drawn at random (see the module docstring)."""
    kind = rng.randrange(7)
    if kind == 0:
        return f"{rng.randint(102, 114)}-{_digits(rng, 7)}-{_digits(rng, 7)}"
    if kind == 1:
        millis = rng.randint(978_307_200_000, 1_999_999_999_999)  # 2001-01-01 to 2033-05-18
        return str(millis * rng.choice((1, 1000, 1_000_000)))
    if kind == 2:
        timestamp = rng.randint(1_288_834_974_657, 1_999_999_999_999) - 1_288_834_974_657
        return str(timestamp << 22 | rng.getrandbits(22))
    if kind == 3:
        date = f"{rng.randint(2015, 2033)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        return date + _digits(rng, rng.randint(4, 8))
    if kind == 4:
        return str(rng.randint(1, 10**7)).zfill(rng.randint(13, 16))
    if kind == 5:
        return luhn_complete(rng.choice(("01", "35", "86", "99")) + _digits(rng, 12))
    return f"ORD-{rng.randint(2015, 2033)}-{_digits(rng, 8)}"


FAMILIES: dict[str, Callable[[random.Random], str]] = {
    "EAN-13": ean13,
    "EAN-13, GS1 Germany (400-440)": lambda rng: ean13(rng, ((400, 440),)),
    "EAN-13, GS1 UK (500-509)": lambda rng: ean13(rng, ((500, 509),)),
    "ISBN-13": isbn13,
    "UPC-A": upc_a,
    "order numbers": order_number,
}


@dataclass(frozen=True)
class Row:
    """One line of the table: how many of ``total`` values the detector flagged as a card number,
    and how many the rule before issue 18 flagged (Luhn-valid windows of 13-19 digits)."""

    name: str
    flagged: int
    before: int
    total: int

    @property
    def rate(self) -> float:
        return self.flagged / self.total


def cards(size: int = SIZE, seed: int = SEED) -> Iterator[tuple[str, str, str]]:
    """(network, form, text) for every measured network and form, ``size`` numbers each."""
    rng = random.Random(seed)
    for network in MEASURED_NETWORKS:
        for _ in range(size):
            for form, text in spellings(rng, card_number(rng, network)).items():
                yield network, form, text


def family_values(name: str, size: int = SIZE, seed: int = SEED) -> list[str]:
    rng = random.Random(f"{seed}-{name}")
    return [FAMILIES[name](rng) for _ in range(size)]


def _verdicts(texts: list[str]) -> tuple[list[bool], list[bool]]:
    """Whether ``detect`` flags each text as a card number, now and under the rule before issue 18
    (the same search with any Luhn-valid window of 13-19 digits taken for a card)."""
    from cio_security.sanitizer import detectors

    now = [detectors.detect(text) == "card_number" for text in texts]
    with patch.object(detectors, "_issued", lambda digits: len(digits) >= 13):
        before = [detectors.detect(text) == "card_number" for text in texts]
    return now, before


def measure(size: int = SIZE, seed: int = SEED) -> tuple[list[Row], list[Row]]:
    """(recall rows: a network, a network and form, and Visa's legacy 13 digits; false-positive
    rows: a family), measured with ``cio_security``'s ``detect``."""
    generated = list(cards(size, seed))
    now, before = _verdicts([text for _, _, text in generated])
    tallies: dict[tuple[str, str], list[int]] = {}
    for (network, form, _), flagged, flagged_before in zip(generated, now, before, strict=True):
        for key in ((network, ""), (network, form)):
            tally = tallies.setdefault(key, [0, 0, 0])
            tally[0] += flagged
            tally[1] += flagged_before
            tally[2] += 1
    recall = [
        Row(f"{network}, {form}" if form else network, *tally) for (network, form), tally in tallies.items()
    ]
    rng = random.Random(f"{seed}-legacy")
    now, before = _verdicts([legacy_visa_13(rng) for _ in range(size)])
    recall.append(Row("visa, 13 digits (legacy; not when also a valid EAN-13)", sum(now), sum(before), size))
    false_positives = []
    for name in FAMILIES:
        now, before = _verdicts(family_values(name, size, seed))
        false_positives.append(Row(name, sum(now), sum(before), size))
    return recall, false_positives


def markdown(recall: list[Row], false_positives: list[Row]) -> str:
    """The two tables as BENCHMARKS.md shows them: recall per network (per form, then in all, then
    under the rule before issue 18), false positives per family (now, then before)."""
    rows = {r.name: r for r in recall}
    header = "| network | plain | grouped | in text | all forms | before (Luhn, 13-19 digits) |"
    lines = [header, "|---|---|---|---|---|---|"]
    for network in MEASURED_NETWORKS:
        forms = [rows[f"{network}, {form}"].rate for form in ("plain", "grouped", "in text")]
        whole = rows[network]
        cells = [f"{rate:.2%}" for rate in (*forms, whole.rate, whole.before / whole.total)]
        lines.append(f"| {network} ({whole.total:,}) | " + " | ".join(cells) + " |")
    legacy = recall[-1]
    lines.append(
        f"| {legacy.name} ({legacy.total:,}) | {legacy.rate:.2%} | | | | {legacy.before / legacy.total:.2%} |"
    )
    lines += ["", "| family | false positives | before (Luhn, 13-19 digits) |", "|---|---|---|"]
    for r in false_positives:
        lines.append(f"| {r.name} ({r.total:,}) | {r.rate:.2%} ({r.flagged:,}) | {r.before / r.total:.2%} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(*measure()))

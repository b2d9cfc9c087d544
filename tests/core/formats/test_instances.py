"""Benchmark instance readers and the independent verifier, on real instance files.

The strongest checks here are the published BKS route sets: if our distance convention or
feasibility rules were off by one unit anywhere, their stated costs would not reproduce.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lastmile.core.errors import InputError
from lastmile.core.formats.instance_check import verify_routes
from lastmile.core.formats.instances import (
    Convention,
    Instance,
    cvrplib_round_int,
    dimacs_trunc1,
    parse_solution,
    read_instance,
    read_solomon,
    read_vrplib,
)
from lastmile.core.model import Location, TimeWindow
from lastmile.core.units import cost_per_metre

DATA = Path(__file__).resolve().parents[2] / "data" / "instances"


def load(name: str) -> Instance:
    path = DATA / name
    return read_instance(path.read_text(encoding="utf-8"), path.stem)


def matrix(instance: Instance) -> np.ndarray:  # type: ignore[type-arg]
    return instance.problem.matrices["van"].distances_m


def dist(instance: Instance, a: int, b: int) -> int:
    """Matrix entry between two customer numbers of the file (0 = depot)."""
    problem = instance.problem

    def loc(cid: int) -> Location:
        return instance.problem.vehicles[0].start if cid == 0 else problem.order(str(cid)).location

    return int(matrix(instance)[problem.index_of(loc(a)), problem.index_of(loc(b))])


# ---------------------------------------------------------------------------------- Solomon


def test_c101_problem_is_built_under_the_dimacs_convention() -> None:
    c101 = load("C101.txt")
    problem = c101.problem
    assert c101.meta.name == "C101"
    assert c101.meta.convention is Convention.DIMACS
    assert c101.meta.scale == 10
    assert c101.meta.fleet_size == 25
    assert len(problem.orders) == 100
    assert [o.id for o in problem.orders[:3]] == ["1", "2", "3"]
    assert problem.dimensions == ("demand",)
    assert len(problem.vehicles) == 25
    assert len({v.id for v in problem.vehicles}) == 25
    vehicle = problem.vehicles[0]
    # Depot row "0 40 50 0 0 1236 0": shift in x10 units, back by the due date.
    assert vehicle.shift == TimeWindow(0, 12360)
    assert vehicle.start == vehicle.end == Location(lon=0.040, lat=0.050)
    assert vehicle.capacity == (200.0,)
    assert vehicle.cost_per_hour == 0
    assert cost_per_metre(vehicle.cost_per_km) == 1  # 1 cost unit per distance unit
    # Customer row "1 45 68 10 912 967 90": window and service x10.
    first = problem.order("1")
    assert first.location == Location(lon=0.045, lat=0.068)
    assert first.demand == (10.0,)
    assert first.windows == (TimeWindow(9120, 9670),)
    assert first.service_s == 900
    assert first.required


def test_dimacs_distances_are_truncated_not_rounded() -> None:
    c101 = load("C101.txt")
    # depot (40, 50) -> customer 1 (45, 68): sqrt(25 + 324) = 18.6815... -> 186 (rounding
    # would give 187); -> customer 2 (45, 70): sqrt(25 + 400) = 20.6155... -> 206.
    assert dist(c101, 0, 1) == 186
    assert dist(c101, 0, 2) == 206
    assert dist(c101, 1, 0) == 186
    # travel time equals distance under this convention
    m = c101.problem.matrices["van"]
    assert np.array_equal(m.durations_s, m.distances_m)
    assert np.all(np.diag(m.distances_m) == 0)


def test_exact_squares_are_not_truncated_below() -> None:
    # (0,0)-(3,4) is exactly 5 -> 50; a float 10*sqrt could land on 49.999...
    assert dimacs_trunc1([0, 3], [0, 4]).tolist() == [[0, 50], [50, 0]]
    assert cvrplib_round_int([0, 3], [0, 4]).tolist() == [[0, 5], [5, 0]]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-2000, 2000), st.integers(-2000, 2000)), min_size=2, max_size=6)
)
def test_dimacs_matrix_matches_the_integer_definition(points: list[tuple[int, int]]) -> None:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    got = dimacs_trunc1(xs, ys)
    for i, (xi, yi) in enumerate(points):
        for j, (xj, yj) in enumerate(points):
            assert got[i, j] == math.isqrt(100 * ((xi - xj) ** 2 + (yi - yj) ** 2))


def test_customers_sharing_coordinates_share_a_location() -> None:
    text = (
        "TINY\n\nVEHICLE\nNUMBER CAPACITY\n 2 10\n\nCUSTOMER\nCUST NO. X Y ...\n"
        "0 0 0 0 0 100 0\n1 3 4 1 0 50 1\n2 3 4 2 0 50 1\n"
    )
    tiny = read_solomon(text, "TINY")
    assert len(tiny.problem.locations) == 2
    assert tiny.problem.order("1").location == tiny.problem.order("2").location
    assert dist(tiny, 0, 2) == 50


def test_r201_and_rc105_headers() -> None:
    r201 = load("R201.txt")
    assert r201.meta.capacity == 1000
    assert r201.problem.vehicles[0].shift == TimeWindow(0, 10000)
    rc105 = load("RC105.txt")
    assert len(rc105.problem.orders) == 100
    assert rc105.meta.fleet_size == 25


# ------------------------------------------------------------------------------------- CVRP


def test_x_n101_k25_is_read_under_cvrplib_rounding() -> None:
    x = load("X-n101-k25.vrp")
    assert x.meta.convention is Convention.CVRPLIB
    assert x.meta.scale == 1
    assert x.meta.capacity == 206
    assert x.meta.fleet_size is None  # the instance does not limit the fleet
    assert len(x.problem.orders) == 100
    # Ids follow the .sol numbering: node id - 1 (depot node 1 -> 0).
    assert x.problem.order("1").location == Location(lon=0.146, lat=0.180)
    assert x.problem.order("1").demand == (38.0,)
    assert not x.problem.order("1").windows
    # depot (365, 689) -> id 4 (461, 270): 429.857 -> 430 (rounded up, not truncated);
    # id 1 (146, 180) -> id 2 (792, 5): 669.28 -> 669.
    assert dist(x, 0, 4) == 430
    assert dist(x, 1, 2) == 669
    # enough identical vehicles for any packing of the demand
    total = sum(o.demand[0] for o in x.problem.orders)
    assert len(x.problem.vehicles) >= 2 * math.ceil(total / 206)


# ------------------------------------------------------------------------ BKS reproduction


def test_cvrp_bks_routes_reproduce_their_cost() -> None:
    x = load("X-n101-k25.vrp")
    solution = parse_solution((DATA / "X-n101-k25.sol").read_text(encoding="utf-8"))
    assert solution.cost == 27591
    assert len(solution.routes) == 26
    verdict = verify_routes(x, solution.routes)
    assert verdict.feasible, verdict.violations
    assert verdict.cost_int == 27591
    assert verdict.routes == 26


def test_gehring_homberger_1000_dimacs_bks_reproduces_its_cost() -> None:
    r1 = load("R1_10_1.txt")
    assert r1.meta.fleet_size == 250
    solution = parse_solution((DATA / "R1_10_1.dimacs.sol").read_text(encoding="utf-8"))
    verdict = verify_routes(r1, solution.routes)
    assert verdict.feasible, verdict.violations
    assert verdict.cost == solution.cost == 53026.1
    assert verdict.cost_int == 530261
    assert verdict.routes == 95


# ----------------------------------------------------------------------------- the verifier


def test_verifier_flags_broken_route_sets() -> None:
    r1 = load("R1_10_1.txt")
    routes = [list(r) for r in parse_solution(
        (DATA / "R1_10_1.dimacs.sol").read_text(encoding="utf-8")
    ).routes]  # fmt: skip

    reversed_first = [list(reversed(routes[0])), *routes[1:]]
    assert any("due date" in v for v in verify_routes(r1, reversed_first).violations)

    missing = [routes[0][1:], *routes[1:]]
    assert any("not served" in v for v in verify_routes(r1, missing).violations)

    twice = [[*routes[0], routes[1][0]], *routes[1:]]
    assert any("twice" in v for v in verify_routes(r1, twice).violations)

    merged = [routes[0] + routes[1], *routes[2:]]
    assert any("capacity" in v for v in verify_routes(r1, merged).violations)

    split = [[c] for route in routes for c in route]  # 1000 single-customer routes
    assert any("fleet has 250" in v for v in verify_routes(r1, split).violations)

    unknown = [[*routes[0], 5000], *routes[1:]]
    assert any("unknown customer 5000" in v for v in verify_routes(r1, unknown).violations)


def test_verifier_recomputes_cost_from_coordinates() -> None:
    c101 = load("C101.txt")
    # depot -> 1 -> depot = 186 + 186 (x10 units) = 37.2; served 912 <= 967, fine. Not all
    # customers served, so infeasible, but the cost is still reported.
    verdict = verify_routes(c101, [[1]])
    assert verdict.cost_int == 372
    assert verdict.cost == 37.2
    assert not verdict.feasible


# --------------------------------------------------------------------------- malformed files


def c101_lines() -> list[str]:
    return (DATA / "C101.txt").read_text(encoding="utf-8").splitlines()


def test_non_numeric_field_names_line_and_field() -> None:
    lines = c101_lines()
    assert lines[11].split()[0] == "2"  # line 12 is customer 2
    tokens = lines[11].split()
    tokens[3] = "ten"
    lines[11] = " ".join(tokens)
    with pytest.raises(InputError) as info:
        read_solomon("\n".join(lines), "C101")
    message = str(info.value)
    assert "line 12" in message
    assert "DEMAND" in message
    assert info.value.issues[0].row == 12
    assert info.value.issues[0].field == "DEMAND"


def test_short_row_names_the_line() -> None:
    lines = c101_lines()
    lines[20] = " ".join(lines[20].split()[:5])
    with pytest.raises(InputError, match=r"line 21: expected 7 fields"):
        read_solomon("\n".join(lines), "C101")


def test_out_of_sequence_customer_number() -> None:
    lines = c101_lines()
    tokens = lines[14].split()
    tokens[0] = "77"
    lines[14] = " ".join(tokens)
    with pytest.raises(InputError, match=r"line 15.*CUST_NO must be 5"):
        read_solomon("\n".join(lines), "C101")


def test_window_ending_before_it_starts() -> None:
    lines = c101_lines()
    tokens = lines[10].split()
    tokens[4], tokens[5] = tokens[5], tokens[4]
    lines[10] = " ".join(tokens)
    with pytest.raises(InputError, match=r"line 11: DUE_DATE is before READY_TIME"):
        read_solomon("\n".join(lines), "C101")


def test_missing_fleet_header() -> None:
    with pytest.raises(InputError, match="NUMBER CAPACITY"):
        read_solomon("C101\n\nCUSTOMER\n0 40 50 0 0 1236 0\n", "C101")


def test_bad_fleet_line() -> None:
    lines = c101_lines()
    lines[4] = "25 two-hundred"
    with pytest.raises(InputError, match=r"line 5: CAPACITY is not a number"):
        read_solomon("\n".join(lines), "C101")


def test_vrplib_bad_coordinate_names_the_line() -> None:
    lines = (DATA / "X-n101-k25.vrp").read_text(encoding="utf-8").splitlines()
    assert lines[7].split()[0] == "1"  # NODE_COORD_SECTION starts at line 8
    lines[9] = "3\t792\tfive"
    with pytest.raises(InputError, match=r"line 10: y is not a number"):
        read_vrplib("\n".join(lines))


def test_vrplib_unsupported_edge_weight_type() -> None:
    text = (DATA / "X-n101-k25.vrp").read_text(encoding="utf-8")
    with pytest.raises(InputError, match=r"line 5: only EUC_2D"):
        read_vrplib(text.replace("EUC_2D", "GEO"))


def test_vrplib_missing_demand() -> None:
    lines = (DATA / "X-n101-k25.vrp").read_text(encoding="utf-8").splitlines()
    start = lines.index(next(line for line in lines if line.startswith("DEMAND_SECTION")))
    del lines[start + 5]
    with pytest.raises(InputError, match=r"demand missing for nodes \[5\]"):
        read_vrplib("\n".join(lines))


def test_solution_file_garbage_line() -> None:
    with pytest.raises(InputError, match=r"line 2"):
        parse_solution("Route #1: 1 2 3\nRoute two: 4\nCost 10\n")

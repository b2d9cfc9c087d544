"""Orders and vehicles CSVs: the shipped sample as it is, common aliases, precise errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from lastmile.core.errors import InputError
from lastmile.core.formats.orders_csv import parse_orders_csv
from lastmile.core.formats.vehicles_csv import parse_vehicles_csv
from lastmile.core.model import OrderKind, Profile, TimeWindow

SAMPLE = Path(__file__).parents[3] / "src" / "lastmile" / "data" / "sample"
H = 3600


def test_sample_files_parse_as_they_are() -> None:
    fleet = parse_vehicles_csv((SAMPLE / "sample_vehicles.csv").read_text())
    assert fleet.dimensions == ("parcels", "weight_kg")
    assert {v.profile for v in fleet.vehicles} == {Profile.VAN, Profile.CAR, Profile.CARGO_BIKE}
    orders = parse_orders_csv(
        (SAMPLE / "sample_day_orders.csv").read_text(), dimensions=fleet.dimensions
    )
    assert len(orders.orders) == 150
    assert not orders.unknown_columns and not orders.missing_demand
    first = orders.orders[0]
    assert first.id == "SMP-0001"
    assert first.windows == (TimeWindow(8 * H, 17 * H),)
    assert first.demand == (1.0, 17.2)
    assert first.service_s == 120


def test_common_aliases_are_understood() -> None:
    text = (
        "Order ID;Street Address;Longitude;Latitude;Time Window;Service Time;Quantity;Weight;Priority;Type;Phone\n"
        "A1;Landstrasse 19, Vaduz;9,5174;47,1435;08:00-10:00, 14:00-16:00;5;2;3,5;optional;pickup;+423 000\n"
    )
    parsed = parse_orders_csv(text, dimensions=("parcels", "weight_kg"))
    (o,) = parsed.orders
    assert o.id == "A1" and o.address == "Landstrasse 19, Vaduz"
    assert (o.location.lon, o.location.lat) == (9.5174, 47.1435)
    assert o.windows == (TimeWindow(8 * H, 10 * H), TimeWindow(14 * H, 16 * H))
    assert o.service_s == 300 and o.demand == (2.0, 3.5)
    assert not o.required and o.kind is OrderKind.PICKUP
    assert parsed.unknown_columns == ()
    assert parsed.rows[0].phone == "+423 000"


def test_a_german_spreadsheet_export_is_understood() -> None:
    """What a shop in Liechtenstein exports: German headers, the address in parts."""
    text = (
        "Bestellnummer;Kunde;Telefon;E-Mail;Adresse;PLZ;Ort;Lieferzeit;Artikel;Bemerkung;"
        "Anzahl;Gewicht;Längengrad\n"
        "B-1;Anna Beck;+423 777 11 22;anna@example.li;Städtle 5;9490;Vaduz;9-12;Rosen;"
        "zweimal klingeln;2;1,5;x\n"
    )
    parsed = parse_orders_csv(text, dimensions=("parcels", "weight_kg"), require_coordinates=False)
    (o,) = parsed.orders
    row = parsed.rows[0]
    assert o.id == "B-1" and o.address == "Städtle 5, 9490 Vaduz"
    assert o.windows == (TimeWindow(9 * H, 12 * H),) and o.demand == (2.0, 1.5)
    assert (row.customer, row.phone, row.email) == (
        "Anna Beck",
        "+423 777 11 22",
        "anna@example.li",
    )
    assert (row.description, o.notes) == ("Rosen", "zweimal klingeln")
    assert parsed.unknown_columns == ("Längengrad",)


def test_columns_not_understood_are_named() -> None:
    parsed = parse_orders_csv("id,lon,lat,colour\nA,9.5,47.1,red\n")
    assert parsed.unknown_columns == ("colour",)


def test_bad_values_name_row_column_and_value() -> None:
    text = "id,lon,lat,window_start,window_end,parcels\nA,9.5,47.1,08:00,12:00,1\nB,abc,47.1,08:00,12:00,1\nC,9.5,47.1,8x,12:00,-2\n"
    with pytest.raises(InputError) as info:
        parse_orders_csv(text, dimensions=("parcels",))
    issues = {(i.row, i.field, i.value) for i in info.value.issues}
    assert (3, "lon", "abc") in issues
    assert (4, "window_start", "8x") in issues
    assert (4, "parcels", "-2") in issues
    assert "row 3, column 'lon'" in info.value.message


def test_missing_columns_and_duplicate_ids_are_reported() -> None:
    with pytest.raises(InputError, match="no order id column"):
        parse_orders_csv("lon,lat\n9.5,47.1\n")
    with pytest.raises(InputError, match="no coordinates"):
        parse_orders_csv("id,address\nA,Somewhere 1\n")
    with pytest.raises(InputError, match="duplicates the id of row 2"):
        parse_orders_csv("id,lon,lat\nA,9.5,47.1\nA,9.6,47.2\n")


def test_pair_must_name_an_existing_order() -> None:
    with pytest.raises(InputError, match="not in the file"):
        parse_orders_csv("id,lon,lat,deliver_to\nP,9.5,47.1,NOPE\n")
    parsed = parse_orders_csv("id,lon,lat,deliver_to\nP,9.5,47.1,D\nD,9.6,47.2,\n")
    assert parsed.orders[0].kind is OrderKind.PICKUP and parsed.orders[0].deliver_to == "D"


def test_vehicles_aliases_counts_open_end_and_breaks() -> None:
    text = (
        "vehicle,type,depot_lng,depot_lat,end_lon,end_lat,shift,capacity,count,break_start,break_end,break_min,skills\n"
        "BIKE,cargo-bike,9.5,47.1,anywhere,,07:00-15:00,20,2,11:00,13:00,30,fridge;cooler\n"
    )
    fleet = parse_vehicles_csv(text)
    assert [v.id for v in fleet.vehicles] == ["BIKE-1", "BIKE-2"]
    v = fleet.vehicles[0]
    assert v.profile is Profile.CARGO_BIKE and v.end is None
    assert v.shift == TimeWindow(7 * H, 15 * H) and v.capacity == (20.0,)
    assert fleet.dimensions == ("parcels",)
    assert v.breaks[0].window == TimeWindow(11 * H, 13 * H) and v.breaks[0].duration_s == 1800
    assert v.skills == frozenset({"fridge", "cooler"})


def test_vehicles_errors() -> None:
    with pytest.raises(InputError, match="no capacity column"):
        parse_vehicles_csv("id,start_lon,start_lat\nV,9.5,47.1\n")
    with pytest.raises(InputError) as info:
        parse_vehicles_csv(
            "id,start_lon,start_lat,capacity_parcels,profile\nV,9.5,47.1,10,hovercraft\n"
        )
    assert info.value.issues[0].field == "profile" and info.value.issues[0].row == 2


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("19-21", [(19 * H, 21 * H)]),
        ("9h-12h", [(9 * H, 12 * H)]),
        ("9h30-12h", [(9 * H + 1800, 12 * H)]),
        ("9:00 - 12:00", [(9 * H, 12 * H)]),
        ("9.00-12.00", [(9 * H, 12 * H)]),
        ("9am-1pm", [(9 * H, 13 * H)]),
        ("8-10, 14-16", [(8 * H, 10 * H), (14 * H, 16 * H)]),
        ("08:00 bis 12:00", [(8 * H, 12 * H)]),
    ],
)
def test_common_window_spellings_are_read(cell: str, expected: list[tuple[int, int]]) -> None:
    parsed = parse_orders_csv(f"id,lon,lat,window\nA1,9.5,47.1,{cell!r}\n".replace("'", '"'))
    assert [(w.start, w.end) for w in parsed.orders[0].windows] == expected


@pytest.mark.parametrize("cell", ["8 o'clock-9", "49-50", "9.5-12", "13pm-14pm", "9:60-10"])
def test_windows_that_are_not_times_name_the_cell(cell: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_orders_csv(f'id,lon,lat,window\nA1,9.5,47.1,"{cell}"\n')
    (issue,) = caught.value.issues
    assert (issue.row, issue.field, issue.value) == (2, "window", cell)


def test_address_is_one_line_from_its_parts_or_with_the_town_columns() -> None:
    text = (
        "id,street,house_number,postcode,city,lon,lat\n"
        "A1,Landstrasse,19,9490,Vaduz,9.5,47.1\n"
        "A2,Im Gamander,14,,Schaan,9.5,47.1\n"
    )
    assert [o.address for o in parse_orders_csv(text).orders] == [
        "Landstrasse 19, 9490 Vaduz",
        "Im Gamander 14, Schaan",
    ]
    text = (
        "id,address,zip,town,lon,lat\n"
        "A1,Landstrasse 19,9490,Vaduz,9.5,47.1\n"
        'A2,"Landstrasse 19, 9490 Vaduz",9490,Vaduz,9.5,47.1\n'
        'A3,"Landstrasse 19, Vaduz",9490,Vaduz,9.5,47.1\n'
    )
    parsed = parse_orders_csv(text)
    assert not parsed.unknown_columns
    assert [o.address for o in parsed.orders] == [
        "Landstrasse 19, 9490 Vaduz",
        "Landstrasse 19, 9490 Vaduz",
        "Landstrasse 19, Vaduz, 9490",
    ]

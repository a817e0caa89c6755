"""Layer kinds and the national field names each kind is recognised by.

Norwegian agencies publish the same attribute under many spellings (SOSI short names such as
``RPAREALFORMÅL``, GML/GeoJSON names such as ``arealformål``, ASCII-folded ``arealformal``).
Ingest stores each recognised attribute under one *canonical* name, keeping the original column too.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class LayerKind(StrEnum):
    """What a layer is, as far as the rules are concerned (DESIGN.md, "Layer kinds")."""

    municipality = "municipality"
    zoning = "zoning"
    watercourse = "watercourse"
    farmland = "farmland"
    heritage = "heritage"
    flood = "flood"
    road = "road"
    site = "site"
    premises = "premises"  # available buildings and premises (ledige lokaler og bygg)
    power = "power"  # grid capacity: substations or areas with free capacity (MW)
    broadband = "broadband"  # fibre / high-speed coverage with speed class
    poi = "poi"  # competence environments and services (technology parks, campuses, clusters …)
    transport = "transport"  # rail stations, airports, ports
    population = "population"  # residents (and employed) on a statistical grid (SSB 250 m / 1 km)
    other = "other"
    cultivable_land = "cultivable_land"  # NIBIO dyrkbar jord
    flood_awareness = "flood_awareness"  # NVE aktsomhetsområde for flom
    landslide = "landslide"  # NVE faresoner for skred and kvikkleire (TEK17 § 7-3)
    landslide_awareness = "landslide_awareness"  # NVE aktsomhetsområder for skred
    coverage = "coverage"  # declared coverage of another layer: polygons with `covers` = layer id or kind


@dataclass(frozen=True)
class CanonicalField:
    """A canonical attribute: its name, value type and the source spellings that map to it."""

    name: str
    dtype: str  # "int", "float" or "str"
    aliases: tuple[str, ...]
    upper: bool = False  # normalise string values to upper case (vernetype codes)
    zero_pad: int = 0  # left-pad numeric strings to this width (kommunenummer "0301")


def fold(name: str) -> str:
    """Fold a field name for matching: lower case, æøå→aoa-style ASCII, no separators.

    ``RPAREALFORMÅL``, ``arealformål`` and ``areal_formal`` all fold to ``arealformal``.
    """
    text = name.strip().lower().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in text if ch.isalnum())


_ZONING = (
    CanonicalField(
        "arealformal",
        "int",
        ("arealformal", "rparealformal", "kparealformal", "formal", "arealformalkode", "kparealbruk",
         "arealbruk", "rpformal"),
    ),
    CanonicalField("planstatus", "int", ("planstatus", "planstat", "rpplanstatus", "kpplanstatus")),
    CanonicalField(
        "arealbruksstatus",
        "int",
        ("arealbruksstatus", "kparealbruksstatus", "arealbrukstatus", "rparealbruksstatus"),
    ),
    CanonicalField("plantype", "str", ("plantype", "kpplantype", "rpplantype")),
    CanonicalField("planid", "str", ("planid", "planidentifikasjon", "arealplanid",
                                     "nasjonalarealplanidplanid")),  # SOSI Plan ..NASJONALAREALPLANID ...PLANID
    CanonicalField("kommunenummer", "str", ("kommunenummer", "kommunenr", "komm", "kommune",
                                            "nasjonalarealplanidkomm"), zero_pad=4),
    # the plan's own building line towards a watercourse / road (metres or a note): exempts the statutory limit
    CanonicalField("byggegrense_vassdrag", "str", ("byggegrensevassdrag", "byggegrensemotvassdrag")),
    CanonicalField("byggegrense_veg", "str", ("byggegrenseveg", "byggegrensemotveg")),
    CanonicalField("vedtaksdato", "str", ("vedtaksdato", "vedtakendeligplandato", "ikrafttredelsesdato")),
)

FIELDS_BY_KIND: dict[LayerKind, tuple[CanonicalField, ...]] = {
    LayerKind.municipality: (
        CanonicalField("kommunenummer", "str", ("kommunenummer", "kommunenr", "komm", "kommune"), zero_pad=4),
        CanonicalField("kommunenavn", "str", ("kommunenavn", "navn", "name")),
    ),
    LayerKind.zoning: _ZONING,
    LayerKind.farmland: (CanonicalField("arealtype", "int", ("arealtype", "artype", "ar5arealtype")),),
    LayerKind.heritage: (
        CanonicalField("vernetype", "str", ("vernetype", "hoyestevernetype", "vern"), upper=True),
        CanonicalField("kulturminne_id", "str", ("kulturminneid", "kulturminnelokalitetid", "lokalitetid")),
    ),
    LayerKind.watercourse: (
        CanonicalField("verneplan", "str", ("verneplan", "vassdragsnummer", "vernetvassdrag")),
    ),
    LayerKind.road: (
        CanonicalField("vegkategori", "str", ("vegkategori", "vegkat", "vegkategorikode"), upper=True),
        CanonicalField("vegnummer", "int", ("vegnummer", "vegnr", "nummer")),
    ),
    LayerKind.flood: (CanonicalField("gjentaksintervall", "int", ("gjentaksintervall", "gjentak")),),
    LayerKind.site: (),
    LayerKind.premises: (
        CanonicalField("adresse", "str", ("adresse", "adressetekst", "gateadresse", "address", "vegadresse")),
        CanonicalField("bruk", "str", ("bruk", "bruksformal", "formal", "type", "lokaletype", "use")),
        CanonicalField("bruksareal_m2", "float", ("bruksarealm2", "bruksareal", "bra", "arealm2", "floorarea")),
        CanonicalField("tomt_m2", "float", ("tomtm2", "tomteareal", "tomtearealm2", "tomt", "plotarea")),
        CanonicalField("pris", "float", ("pris", "prisantydning", "salgspris", "price")),
        CanonicalField("leie", "float", ("leie", "leiekrm2", "leieprism2", "leiepris", "rent")),
        CanonicalField("ledig_fra", "str", ("ledigfra", "tilgjengeligfra", "overtakelse", "availablefrom")),
        CanonicalField("kontakt", "str", ("kontakt", "kontaktperson", "eier", "utleier", "megler", "contact")),
        CanonicalField("navn", "str", ("navn", "name", "bygningsnavn")),
        CanonicalField("kommunenummer", "str", ("kommunenummer", "kommunenr", "komm", "kommune"), zero_pad=4),
    ),
    LayerKind.power: (
        CanonicalField("ledig_kapasitet_mw", "float",
                       ("ledigkapasitetmw", "ledigkapasitet", "tilgjengeligkapasitet", "kapasitetmw",
                        "freecapacitymw")),
        CanonicalField("nettselskap", "str", ("nettselskap", "netteier", "eier", "gridowner")),
        CanonicalField("navn", "str", ("navn", "stasjonsnavn", "name")),
        CanonicalField("spenning_kv", "float", ("spenningkv", "spenning", "voltage")),
    ),
    LayerKind.broadband: (
        CanonicalField("hastighet_mbit", "float",
                       ("hastighetmbit", "nedlastingmbit", "hastighet", "maksnedlasting", "speedmbit",
                        "downloadmbit")),
        CanonicalField("teknologi", "str", ("teknologi", "aksessteknologi", "technology")),
        CanonicalField("hastighetsklasse", "str", ("hastighetsklasse", "hastighetklasse", "speedclass")),
    ),
    LayerKind.poi: (
        CanonicalField("kategori", "str", ("kategori", "type", "category", "poitype")),
        CanonicalField("navn", "str", ("navn", "name")),
    ),
    LayerKind.transport: (
        CanonicalField("type", "str", ("type", "transporttype", "knutepunkttype", "kategori")),
        CanonicalField("navn", "str", ("navn", "name", "stasjonsnavn", "lufthavnnavn")),
        CanonicalField("iata", "str", ("iata", "iatakode"), upper=True),
    ),
    LayerKind.population: (
        CanonicalField("pop_tot", "float", ("poptot", "befolkning", "folkemengde", "bosatte", "population")),
        CanonicalField("sysselsatte", "float", ("sysselsatte", "sysselsattetot", "employed")),
        CanonicalField("ssbid", "str", ("ssbid", "ssbid1000m", "ssbid250m", "rsid")),
    ),
    LayerKind.other: (),
    LayerKind.cultivable_land: (),
    LayerKind.flood_awareness: (),
    LayerKind.landslide: (),
    LayerKind.landslide_awareness: (),
    LayerKind.coverage: (CanonicalField("covers", "str", ("covers", "dekker", "dekningfor")),),
}


def parse_kind(value: str) -> LayerKind:
    """Return the kind named by ``value`` or raise ``ValueError`` listing the known kinds."""
    try:
        return LayerKind(value.strip().lower())
    except ValueError:
        known = ", ".join(k.value for k in LayerKind)
        raise ValueError(f"unknown layer kind {value!r}; use one of: {known}") from None

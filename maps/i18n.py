"""Bokmål and English strings of the maps; bokmål is the default, ``?lang=en`` (or ``--lang en``) switches.

Every string a map shows is here, keyed by a message id, so the two languages cannot drift apart
(``tests/maps/test_i18n.py`` checks that each id has both). Pages hand the strings their scripts need to
``GeoMaps`` in the browser (``labels``), so popups built there are translated too.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["nb", "en"]
LANGS: tuple[Lang, ...] = ("nb", "en")
DEFAULT_LANG: Lang = "nb"

_ALIASES: dict[str, Lang] = {"nb": "nb", "no": "nb", "nob": "nb", "nb-no": "nb", "nn": "nb",
                             "en": "en", "eng": "en", "en-gb": "en", "en-us": "en"}

MESSAGES: dict[str, dict[Lang, str]] = {
    # page titles and headings
    "investor.title": {"nb": "Ledige næringsarealer i Kongsbergregionen",
                       "en": "Available business land in Kongsbergregionen"},
    "investor.subtitle": {"nb": "Ferdig regulerte arealer og arealreserver i sju kommuner",
                          "en": "Zoned-ready sites and land reserves in seven municipalities"},
    "planner.title": {"nb": "Innsigelsesrisiko per arealformål", "en": "Objection risk per zoning area"},
    "planner.subtitle": {"nb": "Arealformål mot vassdrag, dyrka jord, kulturminner og veg",
                         "en": "Zoning areas against watercourses, farmland, heritage and roads"},
    "preview.title": {"nb": "Forhåndsvisning av kartlag", "en": "Layer preview"},
    "lang.switch": {"nb": "English", "en": "Norsk"},
    "synthetic": {"nb": "Syntetiske demodata – ikke reelle plandata",
                  "en": "Synthetic demo data – not real planning data"},
    # missing derived collections
    "missing.business": {
        "nb": "Næringsarealene er ikke beregnet ennå. Tjenesten beregner dem selv om litt, "
              "eller kjør «geo-service analyse».",
        "en": "The business areas have not been computed yet. The service computes them shortly, "
              "or run “geo-service analyse”."},
    "missing.risk": {
        "nb": "Innsigelsesrisikoen er ikke beregnet ennå. Tjenesten beregner den selv om litt, "
              "eller kjør «geo-service analyse».",
        "en": "The objection risk has not been computed yet. The service computes it shortly, "
              "or run “geo-service analyse”."},
    "missing.zoning": {"nb": "Ingen arealplan er lastet inn.", "en": "No zoning layer is loaded."},
    "export.tiles_omitted": {"nb": "Dyrka jord (AR5) vises bare i tjenesten, ikke i eksportert fil.",
                             "en": "Farmland (AR5) is shown in the service only, not in the exported file."},
    # layer names
    "layer.municipalities": {"nb": "Kommunegrenser", "en": "Municipal boundaries"},
    "layer.roads": {"nb": "Hovedveger", "en": "Main roads"},
    "layer.railways": {"nb": "Jernbane", "en": "Railway"},
    "layer.status.pre-approved": {"nb": "Ferdig regulert næringsareal", "en": "Zoned-ready business site"},
    "layer.status.reserve": {"nb": "Arealreserve (kommuneplan)", "en": "Land reserve (master plan)"},
    "layer.risk.RED": {"nb": "Høy risiko for innsigelse", "en": "High objection risk"},
    "layer.risk.YELLOW": {"nb": "Mulig innsigelse", "en": "Possible objection"},
    "layer.risk.NOT_MAPPED": {"nb": "Ikke kartlagt", "en": "Not mapped"},
    "layer.risk.GREEN": {"nb": "Ingen kjent konflikt", "en": "No known conflict"},
    "layer.farmland": {"nb": "Dyrka jord (AR5)", "en": "Cultivated land (AR5)"},
    "layer.features": {"nb": "Objekter", "en": "Features"},
    # legend
    "legend.title.investor": {"nb": "Næringsarealer", "en": "Business land"},
    "legend.title.planner": {"nb": "Innsigelsesrisiko", "en": "Objection risk"},
    "legend.title.constraints": {"nb": "Restriksjoner", "en": "Constraints"},
    "legend.switch_on": {"nb": "Slå på restriksjonene i lagvelgeren (øverst til høyre).",
                         "en": "Switch the constraints on in the layer switcher (top right)."},
    "legend.sites": {"nb": "områder", "en": "sites"},
    "legend.zones": {"nb": "områder", "en": "areas"},
    "legend.belt_default": {"nb": "standard", "en": "default"},
    "legend.belt_own": {"nb": "kommunens egen grense", "en": "municipality's own limit"},
    # popups (also handed to the browser)
    "popup.area": {"nb": "Areal", "en": "Area"},
    "popup.net_available": {"nb": "Netto tilgjengelig", "en": "Net available"},
    "popup.zoning": {"nb": "Arealformål", "en": "Zoning"},
    "popup.plan": {"nb": "Plan", "en": "Plan"},
    "popup.status": {"nb": "Status", "en": "Status"},
    "popup.municipality": {"nb": "Kommune", "en": "Municipality"},
    "popup.town": {"nb": "Til nærmeste sentrum", "en": "To the nearest town centre"},
    "popup.road": {"nb": "Til nærmeste hovedveg", "en": "To the nearest main road"},
    "popup.rail": {"nb": "Til jernbane", "en": "To the railway"},
    "popup.farmland": {"nb": "Dyrka jord i området", "en": "Cultivated land inside"},
    "popup.risk": {"nb": "Innsigelsesrisiko", "en": "Objection risk"},
    "popup.findings": {"nb": "Funn", "en": "Findings"},
    "popup.no_findings": {"nb": "Ingen konflikt med kartlagte restriksjoner.",
                          "en": "No conflict with mapped constraints."},
    "popup.authority": {"nb": "Innsigelsesmyndighet", "en": "Objecting authority"},
    "popup.legal_basis": {"nb": "Hjemmel", "en": "Legal basis"},
    "popup.overlap": {"nb": "Overlapp", "en": "Overlap"},
    "popup.distance": {"nb": "Avstand", "en": "Distance"},
    "popup.zone_m": {"nb": "Sone", "en": "Zone"},
    "popup.why": {"nb": "Hvorfor", "en": "Why"},
    "popup.planstatus": {"nb": "Planstatus", "en": "Plan status"},
    "popup.planstatus.1": {"nb": "planlegging igangsatt", "en": "planning started"},
    "popup.planstatus.2": {"nb": "planforslag", "en": "plan proposal"},
    "popup.planstatus.3": {"nb": "endelig vedtatt", "en": "adopted"},
    "popup.planstatus.4": {"nb": "opphevet", "en": "revoked"},
    "popup.planstatus.5": {"nb": "utgått/erstattet", "en": "expired/replaced"},
    "popup.planstatus.6": {"nb": "vedtatt med utsatt rettsvirkning", "en": "adopted, legal effect deferred"},
    "popup.planstatus.7": {"nb": "tidsbegrenset", "en": "time-limited"},
    "popup.planstatus.8": {"nb": "overstyrt", "en": "overridden"},
    "popup.plantype.kommuneplan": {"nb": "kommuneplan", "en": "master plan"},
    "popup.plantype.reguleringsplan": {"nb": "reguleringsplan", "en": "zoning plan"},
    "status.pre-approved": {"nb": "Ferdig regulert", "en": "Zoned and ready"},
    "status.reserve": {"nb": "Arealreserve", "en": "Land reserve"},
    "status.conflict": {"nb": "Konflikt", "en": "Conflict"},
    "status.existing": {"nb": "Eksisterende næring", "en": "Existing business"},
    "risk.RED": {"nb": "Rød – sannsynlig innsigelse", "en": "Red – objection likely"},
    "risk.YELLOW": {"nb": "Gul – mulig innsigelse", "en": "Yellow – objection possible"},
    "risk.GREEN": {"nb": "Grønn – ingen kjent konflikt", "en": "Green – no known conflict"},
    "risk.NOT_MAPPED": {"nb": "Ikke kartlagt", "en": "Not mapped"},
    "risk.INTERNAL": {"nb": "Intern – kommunens eget hensyn, ikke innsigelse",
                      "en": "Internal – the municipality's own consideration, no objection"},
    "theme.watercourse": {"nb": "Vassdrag", "en": "Watercourse"},
    "theme.farmland": {"nb": "Dyrka jord", "en": "Farmland"},
    "theme.heritage": {"nb": "Kulturminne", "en": "Cultural heritage"},
    "theme.flood": {"nb": "Flom", "en": "Flood"},
    "theme.road": {"nb": "Veg", "en": "Road"},
    "theme.landslide": {"nb": "Skred og kvikkleire", "en": "Landslides and quick clay"},
    "zone.watercourse-belt": {"nb": "Byggeforbudssone langs vassdrag", "en": "Watercourse building-ban belt"},
    "zone.watercourse-protected": {"nb": "Vernet vassdrag – 100-metersbelte",
                                   "en": "Protected watercourse – 100 m belt"},
    "zone.heritage-automatic": {"nb": "Fredet kulturminne med sikringssone",
                                "en": "Protected heritage site with safety zone"},
    "zone.road-main": {"nb": "Byggegrense riks- og fylkesveg", "en": "Building limit, national/county road"},
    "zone.road-municipal": {"nb": "Byggegrense kommunal veg", "en": "Building limit, municipal road"},
    # planner workspace (side panel: draw, upload or pick a site, read the report)
    "ws.title": {"nb": "Sjekk en tomt", "en": "Check a site"},
    "ws.draw": {"nb": "Tegn et område i kartet (femkantknappen til venstre), last opp en fil, eller klikk et "
                      "arealformål og velg «Sjekk dette området».",
                "en": "Draw an area on the map (the polygon button on the left), upload a file, or click a "
                      "zoning area and choose “Check this area”."},
    "ws.upload": {"nb": "Last opp (GeoJSON, zippet Shapefile, GeoPackage, GML)",
                  "en": "Upload (GeoJSON, zipped Shapefile, GeoPackage, GML)"},
    "ws.candidates": {"nb": "Område i filen", "en": "Area in the file"},
    "ws.check_zone": {"nb": "Sjekk dette området", "en": "Check this area"},
    "ws.pdf": {"nb": "Last ned PDF", "en": "Download PDF"},
    "ws.checking": {"nb": "Sjekker …", "en": "Checking …"},
    "ws.error": {"nb": "Kunne ikke sjekke området", "en": "Could not check the area"},
    "ws.hide": {"nb": "Skjul panelet", "en": "Hide the panel"},
    "ws.show": {"nb": "Vis panelet", "en": "Show the panel"},
    "ws.hits": {"nb": "Treff i tomten", "en": "Hits in the site"},
    "ws.site": {"nb": "Tomten", "en": "Site"},
    "ws.business_only": {"nb": "Bare næringsområder", "en": "Business zones only"},
    "unit.daa": {"nb": "daa", "en": "daa"},
    "unit.km": {"nb": "km", "en": "km"},
    "unit.m": {"nb": "m", "en": "m"},
}


def parse_lang(value: str | None) -> Lang:
    """``nb`` (default) or ``en`` from a query value such as ``en``, ``EN``, ``en-GB``, ``no`` or ``nb``."""
    if not value:
        return DEFAULT_LANG
    return _ALIASES.get(value.strip().lower(), DEFAULT_LANG)


def t(key: str, lang: Lang) -> str:
    """The string ``key`` in ``lang`` (``KeyError`` for an unknown id: a typo must fail a test, not a page)."""
    return MESSAGES[key][lang]


def labels(prefixes: tuple[str, ...], lang: Lang) -> dict[str, str]:
    """Every string whose id starts with one of ``prefixes``, for the browser (``GeoMaps.labels``)."""
    return {k: v[lang] for k, v in MESSAGES.items() if k.startswith(prefixes)}


def format_number(value: float, decimals: int, lang: Lang) -> str:
    """``12 345,6`` in bokmål, ``12,345.6`` in English (the same rule as ``GeoMaps.fmt`` in the browser)."""
    text = f"{value:,.{decimals}f}"
    if lang == "nb":
        return text.replace(",", "\u00a0").replace(".", ",")
    return text

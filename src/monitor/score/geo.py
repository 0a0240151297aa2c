"""General-purpose gazetteer: every country of the world with its common names, aliases,
demonyms and capital (plus a few well-known metonyms such as a seat of government).

This is background world knowledge, not a topic list: it covers all countries alike and is
used only to normalise mentions ("Malian" -> ML, "Burma" -> MM, "DPRK" -> KP) so that facets
can be found in the seeds and matched in documents.

Format of each row: ``CODE|names and aliases|demonyms|capitals and metonyms`` with ``;`` between
variants.  Matching is accent- and case-insensitive except for the forms in ``_CASED`` which
must be capitalised in the text (they are also ordinary English words).
"""

from __future__ import annotations

_TABLE = """
AF|Afghanistan|Afghan;Afghans;Afghani|Kabul
AL|Albania|Albanian|Tirana
DZ|Algeria|Algerian|Algiers
AD|Andorra|Andorran|Andorra la Vella
AO|Angola|Angolan|Luanda
AG|Antigua and Barbuda;Antigua|Antiguan|St John's
AR|Argentina|Argentine;Argentinian;Argentinean|Buenos Aires
AM|Armenia|Armenian|Yerevan
AU|Australia|Australian;Aussie|Canberra
AT|Austria|Austrian|Vienna
AZ|Azerbaijan|Azerbaijani;Azeri|Baku
BS|Bahamas;The Bahamas|Bahamian|Nassau
BH|Bahrain|Bahraini|Manama
BD|Bangladesh|Bangladeshi|Dhaka
BB|Barbados|Barbadian;Bajan|Bridgetown
BY|Belarus;Byelorussia|Belarusian;Belarussian|Minsk
BE|Belgium|Belgian|Brussels
BZ|Belize|Belizean|Belmopan
BJ|Benin|Beninese|Porto-Novo;Cotonou
BT|Bhutan|Bhutanese|Thimphu
BO|Bolivia|Bolivian|La Paz;Sucre
BA|Bosnia and Herzegovina;Bosnia-Herzegovina;Bosnia|Bosnian|Sarajevo
BW|Botswana|Motswana;Batswana;Botswanan|Gaborone
BR|Brazil|Brazilian|Brasilia
BN|Brunei;Brunei Darussalam|Bruneian|Bandar Seri Begawan
BG|Bulgaria|Bulgarian|Sofia
BF|Burkina Faso;Burkina;Upper Volta|Burkinabe;Burkinabes|Ouagadougou;Ouaga
BI|Burundi|Burundian|Gitega;Bujumbura
CV|Cape Verde;Cabo Verde|Cape Verdean|Praia
KH|Cambodia;Kampuchea|Cambodian;Khmer|Phnom Penh
CM|Cameroon|Cameroonian|Yaounde
CA|Canada|Canadian|Ottawa
CF|Central African Republic;CAR|Central African;Centrafrican|Bangui
TD|Chad|Chadian|N'Djamena;Ndjamena
CL|Chile|Chilean|Santiago
CN|China;People's Republic of China;PRC;Mainland China|Chinese|Beijing;Peking;Zhongnanhai
CO|Colombia|Colombian|Bogota
KM|Comoros|Comorian|Moroni
CG|Republic of the Congo;Congo-Brazzaville;Congo Brazzaville|Congolese|Brazzaville
CD|Democratic Republic of the Congo;Democratic Republic of Congo;DR Congo;DRC;Congo-Kinshasa;Zaire|Congolese|Kinshasa
CR|Costa Rica|Costa Rican|San Jose
CI|Ivory Coast;Cote d'Ivoire;Côte d'Ivoire|Ivorian;Ivoirian|Yamoussoukro;Abidjan
HR|Croatia|Croatian;Croat|Zagreb
CU|Cuba|Cuban|Havana
CY|Cyprus|Cypriot|Nicosia
CZ|Czech Republic;Czechia|Czech|Prague
DK|Denmark|Danish;Dane;Danes|Copenhagen
DJ|Djibouti|Djiboutian|
DM|Dominica|Dominican|Roseau
DO|Dominican Republic|Dominican|Santo Domingo
TL|East Timor;Timor-Leste;Timor Leste|Timorese|Dili
EC|Ecuador|Ecuadorian;Ecuadorean|Quito
EG|Egypt|Egyptian|Cairo
SV|El Salvador|Salvadoran;Salvadorean|San Salvador
GQ|Equatorial Guinea|Equatoguinean;Equatorial Guinean|Malabo
ER|Eritrea|Eritrean|Asmara
EE|Estonia|Estonian|Tallinn
SZ|Eswatini;Swaziland|Swazi|Mbabane
ET|Ethiopia|Ethiopian|Addis Ababa
FJ|Fiji|Fijian|Suva
FI|Finland|Finnish;Finn;Finns|Helsinki
FR|France;French Republic|French;Frenchman;Frenchwoman|Paris;Elysee;Élysée;Quai d'Orsay
GA|Gabon|Gabonese|Libreville
GM|Gambia;The Gambia|Gambian|Banjul
GE|Georgia|Georgian|Tbilisi
DE|Germany|German|Berlin
GH|Ghana|Ghanaian|Accra
GR|Greece|Greek|Athens
GD|Grenada|Grenadian|St George's
GT|Guatemala|Guatemalan|Guatemala City
GN|Guinea;Guinea-Conakry|Guinean|Conakry
GW|Guinea-Bissau;Guinea Bissau|Bissau-Guinean|Bissau
GY|Guyana|Guyanese|Georgetown
HT|Haiti|Haitian|Port-au-Prince
HN|Honduras|Honduran|Tegucigalpa
HU|Hungary|Hungarian;Magyar|Budapest
IS|Iceland|Icelandic;Icelander|Reykjavik
IN|India|Indian|New Delhi;Delhi
ID|Indonesia|Indonesian|Jakarta
IR|Iran;Persia;Islamic Republic of Iran|Iranian;Persian|Tehran;Teheran
IQ|Iraq|Iraqi|Baghdad
IE|Ireland;Republic of Ireland;Eire|Irish|Dublin
IL|Israel|Israeli|Jerusalem;Tel Aviv
IT|Italy|Italian|Rome
JM|Jamaica|Jamaican|Kingston
JP|Japan|Japanese|Tokyo
JO|Jordan|Jordanian|Amman
KZ|Kazakhstan|Kazakh;Kazakhstani|Astana;Almaty
KE|Kenya|Kenyan|Nairobi
KI|Kiribati|I-Kiribati|Tarawa
KP|North Korea;DPRK;Democratic People's Republic of Korea;D.P.R.K.|North Korean;North Koreans|Pyongyang
KR|South Korea;Republic of Korea;ROK|South Korean;South Koreans|Seoul
XK|Kosovo|Kosovar;Kosovan|Pristina
KW|Kuwait|Kuwaiti|Kuwait City
KG|Kyrgyzstan;Kirghizia|Kyrgyz;Kirghiz|Bishkek
LA|Laos;Lao PDR|Laotian;Lao|Vientiane
LV|Latvia|Latvian|Riga
LB|Lebanon|Lebanese|Beirut
LS|Lesotho|Basotho;Mosotho|Maseru
LR|Liberia|Liberian|Monrovia
LY|Libya|Libyan|Tripoli;Benghazi
LI|Liechtenstein|Liechtensteiner|Vaduz
LT|Lithuania|Lithuanian|Vilnius
LU|Luxembourg|Luxembourger;Luxembourgish|
MG|Madagascar|Malagasy|Antananarivo
MW|Malawi|Malawian|Lilongwe
MY|Malaysia|Malaysian|Kuala Lumpur
MV|Maldives|Maldivian|
ML|Mali|Malian|Bamako
MT|Malta|Maltese|Valletta
MH|Marshall Islands|Marshallese|Majuro
MR|Mauritania|Mauritanian|Nouakchott
MU|Mauritius|Mauritian|Port Louis
MX|Mexico|Mexican|Mexico City
FM|Micronesia|Micronesian|Palikir
MD|Moldova|Moldovan|Chisinau
MC|Monaco|Monegasque|
MN|Mongolia|Mongolian;Mongol|Ulaanbaatar;Ulan Bator
ME|Montenegro|Montenegrin|Podgorica
MA|Morocco|Moroccan|Rabat
MZ|Mozambique|Mozambican|Maputo
MM|Myanmar;Burma|Burmese;Myanmarese;Myanmar's|Naypyidaw;Nay Pyi Taw;Naypyitaw;Yangon;Rangoon
NA|Namibia|Namibian|Windhoek
NR|Nauru|Nauruan|Yaren
NP|Nepal|Nepali;Nepalese|Kathmandu
NL|Netherlands;Holland;The Netherlands|Dutch|Amsterdam;The Hague
NZ|New Zealand;Aotearoa|New Zealander;Kiwi|Wellington
NI|Nicaragua|Nicaraguan|Managua
NE|Niger|Nigerien;Nigerienne|Niamey
NG|Nigeria|Nigerian|Abuja;Lagos
MK|North Macedonia;Macedonia|Macedonian|Skopje
NO|Norway|Norwegian|Oslo
OM|Oman|Omani|Muscat
PK|Pakistan|Pakistani|Islamabad
PW|Palau|Palauan|Ngerulmud
PS|Palestine;Palestinian Territories;West Bank;Gaza;Gaza Strip|Palestinian|Ramallah
PA|Panama|Panamanian|Panama City
PG|Papua New Guinea|Papua New Guinean|Port Moresby
PY|Paraguay|Paraguayan|Asuncion
PE|Peru|Peruvian|Lima
PH|Philippines;The Philippines|Filipino;Philippine;Filipina|Manila
PL|Poland|Polish;Pole;Poles|Warsaw
PT|Portugal|Portuguese|Lisbon
QA|Qatar|Qatari|Doha
RO|Romania|Romanian|Bucharest
RU|Russia;Russian Federation|Russian;Russians|Moscow;Kremlin
RW|Rwanda|Rwandan|Kigali
KN|Saint Kitts and Nevis;St Kitts and Nevis|Kittitian|Basseterre
LC|Saint Lucia;St Lucia|Saint Lucian|Castries
VC|Saint Vincent and the Grenadines;St Vincent|Vincentian|Kingstown
WS|Samoa|Samoan|Apia
SM|San Marino|Sammarinese|
ST|Sao Tome and Principe;São Tomé and Príncipe|Santomean|Sao Tome
SA|Saudi Arabia;Saudi|Saudi;Saudis|Riyadh
SN|Senegal|Senegalese|Dakar
RS|Serbia|Serbian;Serb|Belgrade
SC|Seychelles|Seychellois|
SL|Sierra Leone|Sierra Leonean|Freetown
SG|Singapore|Singaporean|
SK|Slovakia|Slovak;Slovakian|Bratislava
SI|Slovenia|Slovenian;Slovene|Ljubljana
SB|Solomon Islands|Solomon Islander|Honiara
SO|Somalia|Somali|Mogadishu
ZA|South Africa|South African|Pretoria;Cape Town;Johannesburg
SS|South Sudan|South Sudanese|Juba
ES|Spain|Spanish;Spaniard|Madrid
LK|Sri Lanka;Ceylon|Sri Lankan|Colombo
SD|Sudan|Sudanese|Khartoum
SR|Suriname|Surinamese|Paramaribo
SE|Sweden|Swedish;Swede;Swedes|Stockholm
CH|Switzerland|Swiss|Bern;Berne
SY|Syria;Syrian Arab Republic|Syrian|Damascus
TW|Taiwan;Republic of China|Taiwanese|Taipei
TJ|Tajikistan|Tajik;Tajikistani|Dushanbe
TZ|Tanzania|Tanzanian|Dodoma;Dar es Salaam
TH|Thailand;Siam|Thai|Bangkok
TG|Togo|Togolese|Lome
TO|Tonga|Tongan|Nuku'alofa
TT|Trinidad and Tobago;Trinidad|Trinidadian;Tobagonian|Port of Spain
TN|Tunisia|Tunisian|Tunis
TR|Turkey;Turkiye;Türkiye|Turkish;Turk;Turks|Ankara
TM|Turkmenistan|Turkmen|Ashgabat
TV|Tuvalu|Tuvaluan|Funafuti
UG|Uganda|Ugandan|Kampala
UA|Ukraine|Ukrainian|Kyiv;Kiev
AE|United Arab Emirates;UAE;Emirates|Emirati|Abu Dhabi;Dubai
GB|United Kingdom;UK;Britain;Great Britain;England;Scotland;Wales|British;Briton;English;Scottish|London;Downing Street
US|United States;United States of America;USA;US;America|American;Americans|Washington;White House;Pentagon
UY|Uruguay|Uruguayan|Montevideo
UZ|Uzbekistan|Uzbek;Uzbekistani|Tashkent
VU|Vanuatu|Ni-Vanuatu|Port Vila
VA|Vatican;Holy See;Vatican City||
VE|Venezuela|Venezuelan|Caracas
VN|Vietnam;Viet Nam|Vietnamese|Hanoi
YE|Yemen|Yemeni|Sanaa
ZM|Zambia|Zambian|Lusaka
ZW|Zimbabwe|Zimbabwean|Harare
HK|Hong Kong|Hongkonger|
PR|Puerto Rico|Puerto Rican|San Juan
EH|Western Sahara|Sahrawi|Laayoune
GL|Greenland|Greenlandic;Greenlander|Nuuk
"""

# Forms that are also ordinary lower-case words (or too short to trust uncased).
_CASED = frozenset(
    {
        "us",
        "chad",
        "turkey",
        "georgia",
        "jordan",
        "guinea",
        "china",
        "japan",
        "polish",
        "pole",
        "poles",
        "turk",
        "turks",
        "car",
        "kiwi",
        "lao",
        "male",
        "nice",
        "dane",
        "danes",
        "finn",
        "finns",
        "french",
        "english",
        "swiss",
        "dutch",
        "lima",
        "kingston",
        "sofia",
        "georgetown",
        "washington",
        "paris",
        "roc",
        "rok",
        "prc",
        "drc",
        "uae",
        "uk",
        "usa",
        "saudi",
        "monaco",
        "dominican",
        "panama",
        "gaza",
        "persian",
        "thai",
        "trinidad",
        "american",
        "americans",
        "america",
        "emirates",
        "magyar",
        "mongol",
        "pentagon",
        "kremlin",
        "juba",
        "banjul",
        "rome",
        "ouaga",
        "burkina",
        "holland",
        "wales",
        "england",
        "scotland",
        "afghan",
        "afghans",
        "welsh",
    }
)


def _entries() -> list[tuple[str, str, str]]:
    """(alias, code, kind) rows; kind is name, demonym or capital."""
    rows: list[tuple[str, str, str]] = []
    for line in _TABLE.strip().splitlines():
        code, names, demonyms, capitals = (line.split("|") + ["", "", ""])[:4]
        for kind, field in (("name", names), ("demonym", demonyms), ("capital", capitals)):
            for alias in field.split(";"):
                alias = alias.strip()
                if alias:
                    rows.append((alias, code, kind))
                    if kind == "demonym" and not alias.endswith(("s", "ese", "sh", "ch")):
                        rows.append((alias + "s", code, kind))
    return rows


ENTRIES = _entries()
NAMES = {
    code: line.split("|")[1].split(";")[0] for line in _TABLE.strip().splitlines() for code in [line.split("|")[0]]
}
CASED = _CASED

# General world regions and groupings -> member countries.  A mention of a region is partial
# evidence for each member (weighted by how much of the region a facet covers).
_REGIONS = """
Sahel|MR;ML;BF;NE;TD;SN;SD;ER;GM
West Africa;West African|BJ;BF;CV;CI;GM;GH;GN;GW;LR;ML;MR;NE;NG;SN;SL;TG
East Africa;East African|KE;TZ;UG;RW;BI;SS;ET;SO;DJ;ER
Horn of Africa|ET;SO;DJ;ER
Central Africa;Central African region|CM;CF;TD;CG;CD;GQ;GA;ST
North Africa;North African;Maghreb|DZ;MA;TN;LY;EG;MR
Southern Africa|ZA;NA;BW;ZW;ZM;MZ;MW;LS;SZ;AO;MG
Middle East;Middle Eastern|IL;PS;LB;SY;JO;IQ;IR;SA;YE;OM;AE;QA;BH;KW;TR;EG
Gulf states;Persian Gulf|SA;AE;QA;BH;KW;OM
Levant|IL;PS;LB;SY;JO
Balkans;Western Balkans|AL;BA;HR;XK;ME;MK;RS;SI;BG;RO;GR
Baltic states;Baltics|EE;LV;LT
Scandinavia;Nordic countries|DK;NO;SE;FI;IS
Caucasus;South Caucasus|AM;AZ;GE
Central Asia;Central Asian|KZ;KG;TJ;TM;UZ
Southeast Asia;Southeast Asian;ASEAN|BN;KH;ID;LA;MY;MM;PH;SG;TH;VN;TL
South Asia;South Asian|AF;BD;BT;IN;MV;NP;PK;LK
Korean Peninsula|KP;KR
Indochina|KH;LA;VN
Caribbean|AG;BS;BB;CU;DM;DO;GD;HT;JM;KN;LC;VC;TT
Central America;Central American|BZ;CR;SV;GT;HN;NI;PA
Latin America;Latin American;South America;South American|AR;BO;BR;CL;CO;EC;GY;PY;PE;SR;UY;VE;MX
Great Lakes region|RW;BI;CD;UG
"""


def _regions() -> list[tuple[str, tuple[str, ...]]]:
    rows: list[tuple[str, tuple[str, ...]]] = []
    for line in _REGIONS.strip().splitlines():
        names, members = line.split("|")
        for name in names.split(";"):
            rows.append((name.strip(), tuple(members.split(";"))))
    return rows


REGIONS = _regions()


# ---- names in other languages ---------------------------------------------------------------
# CLDR country names (see geo_names.py, generated by tools/gen_geo_names.py) for the country
# codes above.  They are proper nouns in every language covered, so they must be capitalised
# in the text (like the forms in ``_CASED``).  Languages with case inflection get their
# inflected forms from a general suffix rule (``inflect``), not from word lists.

_VOWELS = "aeiouy"
# Polish case endings (accent-folded: ą->a, ę->e, ó->o) by the ending of the nominative
_PL_A = ("a", "y", "i", "ie", "e", "o", "ej", "iej")  # feminine nouns and adjectives in -a
_PL_E = ("e", "i", "ich", "im", "imi", "ych", "ym", "ymi", "ach", "om", "ami")  # plurals in -e
_PL_Y = ("y", "", "ow", "ach", "om", "ami")  # plural nouns in -y/-i
_PL_O = ("o", "a", "u", "ie", "em")  # neuter nouns in -o
_PL_C = ("a", "u", "em", "owi", "ie")  # masculine nouns ending in a consonant
# locative stem alternations of masculine nouns (Katar -> Katarze, Egipt -> Egipcie)
_PL_LOC = (("st", "scie"), ("r", "rze"), ("t", "cie"), ("d", "dzie"), ("ł", "le"), ("k", "ku"), ("g", "gu"))


def inflect(word: str, lang: str) -> set[str]:
    """Inflected forms of one accent-folded, lower-case word of a country name."""
    forms = {word}
    if lang == "de" and len(word) >= 4 and word[-1] not in "sxz":
        forms.add(word + "s")  # genitive
    if lang != "pl" or len(word) < 5 or not word.isalpha():
        return forms  # short names (Mali, Peru, Kuba) are left alone
    last = word[-1]
    if last == "a":
        forms.update(word[:-1] + e for e in _PL_A)
    elif last == "e":
        forms.update(word[:-1] + e for e in _PL_E)
    elif last in "yi":
        forms.update(word[:-1] + e for e in _PL_Y)
    elif last == "o":
        forms.update(word[:-1] + e for e in _PL_O)
    elif last not in _VOWELS:
        stems = [word]
        # a fleeting e (Niger -> Nigru, Nigrze)
        if word[-2] == "e" and word[-3] not in _VOWELS and last in "rlk":
            stems.append(word[:-2] + last)
        for st in stems:
            forms.update(st + e for e in _PL_C)
            for end, loc in _PL_LOC:
                if st.endswith(end):
                    forms.add(st[: -len(end)] + loc)
                    break
    return forms

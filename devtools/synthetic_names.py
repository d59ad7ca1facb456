"""Name, street and place lists for the synthetic Drechtsteden world (``synthetic.py``).

All names are common given names, surnames and street-name patterns; the combinations generated from
them are random and do not describe real people. Every string must be encodable in Windows-1252
(Trivire files are cp1252), so Turkish letters such as ğ, ş and ı are written without their marks.
"""

from __future__ import annotations

# fmt: off

MALE_GIVEN: tuple[str, ...] = (
    "Johannes", "Pieter", "Jan", "Cornelis", "Hendrik", "Willem", "Gerrit", "Adrianus", "Jacobus",
    "Dirk", "Arie", "Teunis", "Bastiaan", "Maarten", "Thomas", "Daan", "Sem", "Lucas", "Bram", "Ruben",
    "Kees", "Henk", "Wim", "Joost", "Sander", "Mark", "Jeroen", "Dennis", "Kevin", "Niels", "René",
    "André", "Joël", "Noël", "Raphaël", "Mohamed", "Ahmed", "Youssef", "Mustafa", "Hamza", "Bilal",
    "Mehmet", "Murat", "Emre", "Hüseyin", "Ömer", "Ibrahim", "Yusuf", "Kemal", "Orhan", "Rachid",
    "Karim", "Soufiane", "Anwar", "Ricardo", "Romano", "Ashwin", "Rajesh", "Dewi", "Sunil", "Glenn",
    "Jurgen", "Ivanildo", "Carlos", "José", "Tomasz", "Piotr",
)

FEMALE_GIVEN: tuple[str, ...] = (
    "Maria", "Johanna", "Cornelia", "Adriana", "Wilhelmina", "Hendrika", "Elisabeth", "Anna", "Geertje",
    "Neeltje", "Petronella", "Jacoba", "Sanne", "Emma", "Julia", "Sophie", "Lotte", "Eva", "Fleur",
    "Anouk", "Lisa", "Ingrid", "Marieke", "Linda", "Monique", "Sandra", "Kim", "Esther", "Chloë",
    "Zoë", "Noëlle", "Anaïs", "Danaë", "Mariëlle", "Hélène", "Irène", "Fatima", "Khadija", "Naima",
    "Samira", "Yasmina", "Nadia", "Souad", "Zeynep", "Ayse", "Elif", "Emine", "Fatma", "Büsra",
    "Gülsen", "Özlem", "Meryem", "Saskia", "Shanti", "Priya", "Anjali", "Sharmila", "Rosita", "Gracia",
    "Marisol", "Jennifer", "Agnieszka", "Katarzyna",
)

# (prefix, surname); prefix "" for none. Diacritics appear in a share of the surnames.
SURNAMES: tuple[tuple[str, str], ...] = (
    ("de", "Jong"), ("", "Jansen"), ("de", "Vries"), ("van den", "Berg"), ("van", "Dijk"),
    ("", "Bakker"), ("", "Janssen"), ("", "Visser"), ("", "Smit"), ("", "Meijer"), ("de", "Boer"),
    ("", "Mulder"), ("de", "Groot"), ("", "Bos"), ("", "Vos"), ("", "Peters"), ("", "Hendriks"),
    ("van", "Leeuwen"), ("", "Dekker"), ("", "Brouwer"), ("de", "Wit"), ("", "Dijkstra"), ("", "Smits"),
    ("de", "Graaf"), ("van der", "Meer"), ("van der", "Linden"), ("", "Kok"), ("", "Jacobs"),
    ("de", "Haan"), ("", "Vermeulen"), ("van den", "Heuvel"), ("van der", "Veen"), ("van den", "Broek"),
    ("de", "Bruijn"), ("de", "Bruin"), ("van der", "Heijden"), ("", "Schouten"), ("van", "Beek"),
    ("", "Willems"), ("van", "Vliet"), ("van de", "Ven"), ("", "Hoekstra"), ("", "Maas"),
    ("", "Verhoeven"), ("", "Koster"), ("van", "Dam"), ("van der", "Wal"), ("", "Prins"),
    ("", "Blom"), ("", "Huisman"), ("", "Peeters"), ("de", "Kock"), ("", "Boender"), ("", "Verschoor"),
    ("van", "Wijngaarden"), ("", "Kraaijeveld"), ("", "Ouwendijk"), ("", "Baan"), ("den", "Hartog"),
    ("den", "Boer"), ("in 't", "Veld"), ("in 't", "Hout"), ("ter", "Horst"), ("ter", "Linden"),
    ("van", "Hattem"), ("", "Sterrenburg"), ("van", "Houwelingen"), ("", "Bogerd"), ("", "Pellikaan"),
    ("", "Hoëtmer"), ("", "Geërts"), ("", "Boëtius"), ("", "Noë"), ("", "Kuijpers"), ("", "Schröder"),
    ("", "Müller"), ("", "Hüsken"), ("", "Göbel"), ("", "Hoogendoorn"), ("", "Stolk"), ("", "Vogelaar"),
    ("", "Yilmaz"), ("", "Kaya"), ("", "Demir"), ("", "Sahin"), ("", "Çelik"), ("", "Öztürk"),
    ("", "Aydin"), ("", "Arslan"), ("", "Dogan"), ("", "Korkmaz"), ("", "Güler"), ("", "Koç"),
    ("", "El Amrani"), ("", "Bouzid"), ("", "El Idrissi"), ("", "Benali"), ("", "Ouali"),
    ("", "Ait Taleb"), ("el", "Hamdaoui"), ("", "Azzouzi"), ("", "Boukhari"), ("", "Tahiri"),
    ("", "Ramdin"), ("", "Sewdien"), ("", "Ramsaran"), ("", "Jagessar"), ("", "Kartosen"),
    ("", "Pinas"), ("", "Wijngaarde"), ("", "Sedney"), ("", "Bouterse"), ("", "Doekhie"),
    ("", "Muñoz"), ("", "Ruïz"), ("", "Gonçalves"), ("", "Fernández"), ("", "Nowak"), ("", "Kowalski"),
    ("van", "Eijk"), ("van", "Rijn"), ("van der", "Giessen"), ("van", "Wingerden"), ("", "Zwijnenburg"),
)

STREET_BASES: tuple[str, ...] = (
    "Voorstraat", "Wijnstraat", "Merwedestraat", "Noordendijk", "Dubbeldamseweg", "Krommedijk",
    "Oranjelaan", "Spuiweg", "Singel", "Vrieseplein", "Kerkstraat", "Dorpsstraat", "Molenstraat",
    "Schoolstraat", "Rijksstraatweg", "Stationsweg", "Julianastraat", "Wilhelminastraat",
    "Beatrixlaan", "Prins Bernhardlaan", "Burgemeester de Raadtsingel", "Karel Doormanstraat",
    "Van Oldenbarneveltlaan", "Nassauweg", "Parallelweg", "Lindelaan", "Eikenlaan", "Berkenlaan",
    "Kastanjelaan", "Populierenstraat", "Wilgenstraat", "Tulpstraat", "Rozenstraat", "Anjerstraat",
    "Zonnebloemstraat", "Meidoornstraat", "Vlierstraat", "Reigerstraat", "Merelstraat", "Kievitstraat",
    "Zwanenlaan", "Havenstraat", "Scheepmakerij", "Touwbaan", "Lijnbaan", "Zeilmakerstraat",
    "Rembrandtlaan", "Vermeerstraat", "Mauritsweg", "Kinderdijkstraat", "Polderweg", "Boezemkade",
    "Rivierdijk", "Oude Maasweg", "Lage Zijde", "Hoge Zijde", "Kerkbuurt", "Peulenstraat",
    "Crayestein", "Sterrenburg", "Stadspolders", "Sportlaan", "Marktplein", "Zuidendijk",
)

# Postcode digit ranges per municipality (Drechtsteden-ish), inclusive.
POSTCODE_RANGES: dict[str, tuple[int, int]] = {
    "Alblasserdam": (2951, 2954),
    "Dordrecht": (3311, 3319),
    "Hardinxveld-Giessendam": (3370, 3373),
    "Hendrik-Ido-Ambacht": (3341, 3344),
    "Papendrecht": (3351, 3356),
    "Sliedrecht": (3361, 3364),
    "Zwijndrecht": (3331, 3335),
}

# Relative population weights of the municipalities.
MUNICIPALITY_WEIGHTS: dict[str, float] = {
    "Alblasserdam": 20.0,
    "Dordrecht": 120.0,
    "Hardinxveld-Giessendam": 18.5,
    "Hendrik-Ido-Ambacht": 31.5,
    "Papendrecht": 32.5,
    "Sliedrecht": 25.5,
    "Zwijndrecht": 45.0,
}

AREA_CODES: dict[str, str] = {
    "Alblasserdam": "078",
    "Dordrecht": "078",
    "Hardinxveld-Giessendam": "0184",
    "Hendrik-Ido-Ambacht": "078",
    "Papendrecht": "078",
    "Sliedrecht": "0184",
    "Zwijndrecht": "078",
}

HOUSE_NUMBER_SUFFIXES: tuple[str, ...] = ("bis", "1", "2", "3", "hs", "rd", "A", "zw")
HOUSE_LETTERS: tuple[str, ...] = ("A", "B", "C", "D")
EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.net", "example.org")
POSTCODE_LETTERS: str = "ABCEGHJKLMNPRTVWXZ"
OTHER_REPORTERS: tuple[str, ...] = ("", "", "", "zelfmelding", "huisarts", "woonkracht10", "fien_wonen")
# fmt: on

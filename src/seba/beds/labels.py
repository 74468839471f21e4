"""Words for bed codes, as English msgids (the catalogues translate them).

Two vocabularies on purpose: the staff console uses the state's official names for bed types
(CCU with/without ventilator), the public page the words families use (ICU).
"""

from __future__ import annotations

# The state's bed page named the five Covid bed types this way (DOMAIN.md §1.1).
BED_TYPE_LABELS = {
    "general": "General",
    "oxygen": "With oxygen",
    "hdu": "HDU",
    "icu": "CCU without ventilator",
    "ventilator": "CCU with ventilator",
    "paediatric": "Children's",
}
SEX_LABELS = {"male": "Men", "female": "Women", "any": "Anyone"}

# The public bed page's words for the codes it shows.
PUBLIC_LABELS = {
    "bed_type": {
        "general": "Regular",
        "oxygen": "With oxygen",
        "hdu": "HDU",
        "icu": "ICU",
        "ventilator": "ICU with ventilator",
        "paediatric": "Children's",
    },
    "sex": {"male": "Men", "female": "Women", "any": "Anyone"},
    "ownership": {
        "government": "Government",
        "govt_requisitioned_private": "Government-requisitioned private",
        "private": "Private",
    },
    "kind": {
        "medical_college": "Medical college",
        "district_hospital": "District hospital",
        "sub_divisional_hospital": "Sub-divisional hospital",
        "state_general_hospital": "State general hospital",
        "specialty": "Specialty hospital",
        "rural_hospital": "Rural hospital",
        "private_hospital": "Private hospital",
        "satellite_centre": "Satellite Covid centre",
        "safe_home": "Safe home",
    },
}

"""Bed census input and the public availability filters."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from seba.beds.models import BED_TYPES, SEXES

BedType = Literal[BED_TYPES]  # type: ignore[valid-type]
Sex = Literal[SEXES]  # type: ignore[valid-type]
MAX_BEDS = 20_000


class PoolCensus(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bed_type: BedType
    sex: Sex
    total: int = Field(ge=0, le=MAX_BEDS)
    occupied: int = Field(ge=0, le=MAX_BEDS)

    @model_validator(mode="after")
    def _fits(self) -> PoolCensus:
        if self.occupied > self.total:
            raise ValueError("occupied cannot be more than total")
        return self


class CensusUpdate(BaseModel):
    """One atomic census submit: any number of the facility's pools, from a known version."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=0)
    pools: list[PoolCensus] = Field(min_length=1, max_length=len(BED_TYPES) * len(SEXES))
    reason: str = Field(default="", max_length=400)

    @model_validator(mode="after")
    def _unique(self) -> CensusUpdate:
        keys = [(p.bed_type, p.sex) for p in self.pools]
        if len(keys) != len(set(keys)):
            raise ValueError("each (bed_type, sex) pool may appear only once")
        return self

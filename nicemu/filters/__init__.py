"""NDIS lightweight filter drivers: modules stacked between the miniport and the protocols."""

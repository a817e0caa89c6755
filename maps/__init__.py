"""Presentation: styles and legends, vector-tile encoding, folium maps, fact sheets."""

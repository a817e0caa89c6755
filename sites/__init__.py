"""The site portfolio: every available site with the facts an investor asks for, searchable and ranked.

``register`` builds the derived ``sites`` collection (business areas and premises with infrastructure,
workforce and competence facts), ``network`` routes on the road layers, ``search`` filters and scores.
"""

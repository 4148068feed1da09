"""Vehicles: car, airplane, watercraft. Units are metres (a length of 1 for airplanes and boats);
every builder returns one part whose box bounds it; front is +Z, up is +Y."""
from __future__ import annotations

import math

import numpy as np

from .parts import (X, Y, Z, _Draw, _Part, _box, _capsule, _cone, _cyl, _ellipsoid, _extrude, _group, _poly,
    _torus)



_CAR_STYLES = {  # length, width, clearance, body height, cabin height, wheel radius (ranges, metres);
    # cabin profile as fractions of the length from the rear: rear base, roof rear, roof front, front base
    "sedan": ((4.3, 4.9), (1.75, 1.9), (0.14, 0.18), (0.58, 0.66), (0.48, 0.56), (0.32, 0.36),
              (0.19, 0.36, 0.6, 0.75)),
    "hatchback": ((3.8, 4.3), (1.68, 1.8), (0.14, 0.18), (0.58, 0.66), (0.52, 0.6), (0.3, 0.34),
                  (0.04, 0.12, 0.56, 0.74)),
    "suv": ((4.4, 4.9), (1.85, 2.0), (0.2, 0.26), (0.7, 0.8), (0.55, 0.62), (0.36, 0.4),
            (0.03, 0.06, 0.62, 0.77)),
    "pickup": ((5.0, 5.6), (1.9, 2.0), (0.22, 0.28), (0.7, 0.8), (0.55, 0.62), (0.37, 0.41),
               (0.38, 0.40, 0.62, 0.74)),
    "sports": ((4.2, 4.6), (1.85, 2.0), (0.1, 0.13), (0.45, 0.52), (0.36, 0.42), (0.32, 0.35),
               (0.15, 0.38, 0.55, 0.72)),
}



def _car(d: _Draw) -> _Part:
    style = d.choice("style", tuple(_CAR_STYLES), "sedan", p=(0.3, 0.2, 0.2, 0.15, 0.15))
    (l_rng, w_rng, c_rng, b_rng, h_rng, r_rng, cabin) = _CAR_STYLES[style]
    L = d.uniform("length", *l_rng)
    W = d.uniform("width", *w_rng)
    clr = d.uniform("clearance", *c_rng)
    bh = d.uniform("body_height", *b_rng)
    chh = d.uniform("cabin_height", *h_rng)
    rw = d.uniform("wheel_radius", *r_rng)
    ww = d.uniform("wheel_width", 0.2, 0.28, 0.24)
    jitter = [d.uniform(f"cabin_shift_{i}", -0.02, 0.02, 0.0) for i in range(4)]
    front_ovh = d.uniform("front_overhang", 0.17, 0.22, 0.19)
    rear_ovh = d.uniform("rear_overhang", 0.18, 0.24, 0.21)
    nose = d.uniform("nose_height", 0.4, 0.6, 0.5)

    y0, y1, y2 = clr, clr + bh, clr + bh + chh
    rr = 0.07
    # Side profile: trunk, beltline, hood sloping down to the nose, bumpers, flat floor.
    body = _poly([(-L / 2, y0 + 0.12), (-L / 2 + 0.03, y1 - 0.07), (-L / 2 + 0.2, y1),
                  (-L / 2 + (cabin[3] + jitter[3]) * L, y1 + 0.01), (L / 2 - 0.12, y1 - 0.13),
                  (L / 2, y0 + bh * nose), (L / 2 - 0.05, y0 + 0.06), (L / 2 - 0.25, y0), (-L / 2 + 0.2, y0),
                  (-L / 2 + 0.02, y0 + 0.05)])
    body = _extrude(body, (Z, Y), W - 2 * rr, r=rr)
    zs = [-L / 2 + (f + j) * L for f, j in zip(cabin, jitter)]
    zs[1] = max(zs[1], zs[0] + 0.02)
    zs[3] = max(zs[3], zs[2] + 0.3)
    yb, yt = y1 - 0.06, y2 - 0.05
    greenhouse = _extrude(_poly([(zs[0], yb), (zs[1], yt), (zs[2], yt), (zs[3], yb)]), (Z, Y), W * 0.88)
    tumblehome = _extrude(_poly([(-W * 0.44, yb - 0.01), (W * 0.44, yb - 0.01), (W * 0.36, yt + 0.01),
                                 (-W * 0.36, yt + 0.01)]), (X, Y), L)
    zf, zr = L / 2 - front_ovh * L, -L / 2 + rear_ovh * L
    fenders = _group([_cyl((0, rw, z), rw + 0.09, W - 0.1, axis=X, r=0.05) for z in (zf, zr)])
    shell = body.blend(fenders, 0.15).blend((greenhouse & tumblehome).round(0.05), 0.1)
    # Side windows: a recess in the cabin's sides, inset from its pillars.
    yw0, yw1 = y1 + 0.07, y2 - 0.1

    def slope(z_low, z_high, y):  # z on the pillar from (z_low, yb) to (z_high, yt) at height y
        return z_low + (z_high - z_low) * (y - yb) / (yt - yb)
    window = _poly([(slope(zs[0], zs[1], yw0) + 0.14, yw0), (slope(zs[0], zs[1], yw1) + 0.14, yw1),
                    (slope(zs[3], zs[2], yw1) - 0.14, yw1), (slope(zs[3], zs[2], yw0) - 0.14, yw0)])
    window_cut = _extrude(window, (Z, Y), 0.6, center=W * 0.44 + 0.3 - 0.05)
    window_cut = window_cut.rotate((0, 0, 1), math.degrees(math.atan2(W * 0.08, yt - yb)),
                                   about=(W * 0.44 - 0.05, yb, 0)).fold(X)
    cuts = [window_cut]
    xw = W / 2 - ww / 2 - 0.03
    x_in = W / 2 - ww - 0.09  # the wheel wells' inner wall
    for z in (zf, zr):
        cuts.append(_cyl(((x_in + W / 2 + 0.2) / 2, rw, z), rw + 0.06, W / 2 + 0.2 - x_in, axis=X).fold(X))
    if style == "pickup":
        cuts.append(_box((0, y1 + 0.5 - 0.4, (-L / 2 + 0.1 + zs[0] - 0.08) / 2),
                         (W - 0.16, 1.0, zs[0] - 0.08 - (-L / 2 + 0.1))))
    parts = [shell - cuts]
    for z in (zf, zr):
        tyre = _cyl((xw, rw, z), rw, ww, axis=X, r=0.05)
        rim = _cyl((xw + ww / 2, rw, z), rw * 0.62, 0.08, axis=X)
        hub = _cyl((xw, rw, z), rw * 0.22, ww + 0.02, axis=X)
        parts += [((tyre - rim) | hub).fold(X), _cyl((0, rw, z), 0.09, 2 * xw, axis=X)]
    if style == "sports" and d.chance("spoiler", 0.5, True):
        zsp = -L / 2 + 0.2
        parts += [_box((0, y1 + 0.14, zsp), (W * 0.85, 0.05, 0.3), r=0.02),
                  _box((W * 0.3, y1 + 0.06, zsp), (0.06, 0.16, 0.12)).fold(X)]
    return _group(parts)



def _wing(root_le: float, root_chord: float, span: float, sweep_deg: float, tip_ratio: float,
          thickness: float, y: float, dihedral: float = 0.0, x0: float = 0.01) -> _Part:
    """A pair of straight-tapered wings in the XZ plane (leading edge toward +Z), root at x = x0."""
    tip_le = root_le - (span - x0) * math.tan(math.radians(sweep_deg))
    half = _extrude(_poly([(x0, root_le), (span, tip_le), (span, tip_le - root_chord * tip_ratio),
                           (x0, root_le - root_chord)]), (X, Z), thickness, center=y, r=0.005)
    if dihedral:
        half = half.rotate((0, 0, 1), dihedral, about=(0, y, 0))
    return half.fold(X)



def _airplane(d: _Draw) -> _Part:
    style = d.choice("style", ("airliner", "fighter", "propeller"), "airliner", p=(0.5, 0.25, 0.25))
    L = 1.0
    parts = []
    if style == "airliner":
        rf = d.uniform("fuselage_radius", 0.042, 0.06, 0.05)
        span = d.uniform("half_span", 0.42, 0.55, 0.48)
        sweep = d.uniform("sweep_deg", 22.0, 35.0, 28.0)
        chord = d.uniform("root_chord", 0.16, 0.22, 0.19)
        taper = d.uniform("taper", 0.22, 0.4, 0.3)
        zw = d.uniform("wing_position", -0.05, 0.04, -0.01)
        dihedral = d.uniform("dihedral_deg", 2.0, 7.0, 5.0)
        n_eng = d.choice("engines", (2, 4), 2, p=(0.75, 0.25))
        t_tail = d.chance("t_tail", 0.15, False)
        tail_span = d.uniform("tail_half_span", 0.14, 0.2, 0.17)
        fin_h = d.uniform("fin_height", 0.12, 0.18, 0.15)
        parts += [_capsule((0, 0, -0.22), (0, 0, L / 2 - rf), rf),
                  _cone((0, 0, -0.22), (0, rf * 0.55, -L / 2 + rf * 0.25), rf, rf * 0.25)]
        wy = -rf * 0.45
        root_le = zw + chord / 2
        parts.append(_wing(root_le, chord, span, sweep, taper, 0.04, wy, dihedral))
        tan_s, tan_d = math.tan(math.radians(sweep)), math.tan(math.radians(dihedral))
        rn = rf * 0.6
        stations = (0.36,) if n_eng == 2 else (0.3, 0.6)
        for f in stations:
            x = span * f
            le = root_le - x * tan_s
            y = wy + x * tan_d - 0.0175 - rn + 0.012
            parts.append(_cone((x, y, le + 0.06), (x, y, le - 0.08), rn, rn * 0.75).fold(X))
        fin_root = -L / 2 + 0.2
        fin_top_y = rf * 0.5 + fin_h
        parts.append(_extrude(_poly([(fin_root, rf * 0.3), (fin_root - 0.17, rf * 0.3),
                                     (fin_root - 0.17 - fin_h * 0.1, fin_top_y),
                                     (fin_root - 0.17 + 0.075 - fin_h * 0.1 + 0.0, fin_top_y)]),
                              (Z, Y), 0.03, r=0.004))
        ty = fin_top_y - 0.02 if t_tail else rf * 0.4
        tz = fin_root - 0.17 + 0.075 if t_tail else -L / 2 + 0.14
        parts.append(_wing(tz, 0.1, tail_span, sweep + 5, 0.45, 0.035, ty))
    elif style == "fighter":
        rf = d.uniform("fuselage_radius", 0.045, 0.058, 0.05)
        span = d.uniform("half_span", 0.26, 0.36, 0.31)
        chord = d.uniform("root_chord", 0.42, 0.55, 0.48)
        tip = d.uniform("tip_chord", 0.04, 0.09, 0.06)
        twin = d.chance("twin_fins", 0.5, True)
        fin_h = d.uniform("fin_height", 0.12, 0.17, 0.14)
        parts += [_capsule((0, 0, -L / 2 + rf), (0, 0, 0.18), rf),
                  _cone((0, 0, 0.18), (0, -0.005, L / 2 - 0.015), rf, 0.015),
                  _ellipsoid((0, rf * 0.75, 0.2), (0.032, 0.035, 0.1)),
                  _box((rf * 0.9, -0.005, -0.02), (0.05, 0.06, 0.22), r=0.01).fold(X)]
        root_le = -L / 2 + 0.06 + chord
        sweep = math.degrees(math.atan2(chord - tip - 0.02, span))
        parts.append(_wing(root_le, chord, span, sweep, tip / chord, 0.035, 0.0))
        parts.append(_wing(-L / 2 + 0.16, 0.12, span * 0.55, 40, 0.35, 0.035, 0.0))
        fin = _extrude(_poly([(-L / 2 + 0.22, rf * 0.5), (-L / 2 + 0.04, rf * 0.5),
                              (-L / 2 + 0.02, rf * 0.5 + fin_h), (-L / 2 + 0.08, rf * 0.5 + fin_h)]),
                       (Z, Y), 0.032, r=0.005)
        if twin:
            fin = fin.rotate((0, 0, 1), -15, about=(0, rf * 0.5, 0)).translate((rf * 0.75, 0, 0)).fold(X)
        parts.append(fin)
    else:  # propeller: straight high wing, spinner and blades
        rf = d.uniform("fuselage_radius", 0.06, 0.075, 0.065)
        span = d.uniform("half_span", 0.52, 0.62, 0.57)
        chord = d.uniform("chord", 0.14, 0.18, 0.16)
        taper = d.uniform("taper", 0.7, 1.0, 0.85)
        n_blades = d.integer("blades", 2, 3, 2)
        parts += [_capsule((0, 0, -0.1), (0, 0, L / 2 - 0.07), rf),
                  _cone((0, 0, -0.1), (0, rf * 0.5, -L / 2 + 0.02), rf, 0.02),
                  _ellipsoid((0, rf * 0.55, 0.18), (rf * 0.85, rf * 0.7, 0.12))]
        wy = rf + 0.012
        parts.append(_wing(0.26, chord, span, 2.0, taper, 0.045, wy, 1.5))
        parts.append(_capsule((rf * 0.8, -rf * 0.4, 0.16), (span * 0.4, wy - 0.01, 0.18), 0.02).fold(X))
        parts.append(_wing(-L / 2 + 0.12, 0.09, 0.18, 8, 0.7, 0.04, rf * 0.4))
        parts.append(_extrude(_poly([(-L / 2 + 0.15, rf * 0.3), (-L / 2 + 0.03, rf * 0.3),
                                     (-L / 2 + 0.02, rf * 0.5 + 0.13), (-L / 2 + 0.08, rf * 0.5 + 0.13)]),
                              (Z, Y), 0.036, r=0.005))
        parts.append(_cone((0, 0, L / 2 - 0.07), (0, 0, L / 2 - 0.01), 0.035, 0.012))
        for k in range(n_blades):
            blade = _box((0, 0.075, L / 2 - 0.04), (0.05, 0.15, 0.035), r=0.01)
            parts.append(blade.rotate((0, 0, 1), 360.0 * k / n_blades + 20, about=(0, 0, 0)))
    return _group(parts)



def _hull(length: float, beam: float, depth: float, sheer: float, pointed_stern: bool,
          bow_power: float, deadrise: float) -> _Part:
    """A boat hull along Z (bow at +Z), keel at y = 0: the intersection of its plan (XZ), side profile
    (ZY) and cross-section (XY) extrusions."""
    h, b = length / 2, beam / 2
    zm = -0.1 * length if not pointed_stern else 0.0
    ts = np.linspace(0.0, 1.0, 10)
    tip = 0.012 * length  # blunt tips: a needle point would vanish on coarse grids
    right = [(max(b * (1 - t ** bow_power), tip), zm + t * (h - zm)) for t in ts]  # to the bow
    if pointed_stern:
        stern = [(max(b * (1 - t ** bow_power), tip), zm - t * (h + zm)) for t in ts[1:]]
    else:
        stern = [(b * 0.82, -h)]
    side = list(reversed(stern)) + right
    plan = [(x, z) for x, z in side] + [(-x, z) for x, z in reversed(side)]
    rise = depth * 0.6
    keel = [(zm + t * (h - zm), rise * t ** 2) for t in ts]
    if pointed_stern:
        aft = [(zm - t * (h + zm), rise * t ** 2) for t in ts[1:]]
        profile = list(reversed(aft)) + keel + [(h + 0.001, depth + sheer), (-h - 0.001, depth + sheer)]
    else:
        profile = [(-h, depth * 0.25), (-h + 0.1 * length, 0.0)] + keel + [(h + 0.001, depth + sheer),
                                                                         (-h, depth)]
    deck_y = depth + sheer + 0.01
    section = [(0, 0.0), (b * 0.8, depth * deadrise), (b + 0.01, deck_y), (-b - 0.01, deck_y),
               (-b * 0.8, depth * deadrise)]
    top = depth + sheer
    return (_extrude(_poly(plan), (X, Z), 2 * top + 0.1, center=top / 2)
            & _extrude(_poly(profile), (Z, Y), beam + 0.1)
            & _extrude(_poly(section), (X, Y), length + 0.1))



def _watercraft(d: _Draw) -> _Part:
    style = d.choice("style", ("motorboat", "sailboat", "ship", "canoe"), "motorboat",
                     p=(0.3, 0.25, 0.25, 0.2))
    parts = []
    if style == "motorboat":
        B = d.uniform("beam", 0.3, 0.4, 0.34)
        Hd = d.uniform("hull_depth", 0.12, 0.17, 0.14)
        sheer = d.uniform("sheer", 0.02, 0.06, 0.04)
        ch = d.uniform("cabin_height", 0.08, 0.14, 0.1)
        cz = d.uniform("cabin_position", -0.12, 0.05, -0.05)
        hull = _hull(1.0, B, Hd, sheer, False, d.uniform("bow_power", 1.6, 2.4, 2.0), 0.3)
        deck = Hd + sheer * 0.3
        cabin = _extrude(_poly([(cz - 0.18, deck - 0.03), (cz - 0.16, deck + ch), (cz + 0.05, deck + ch),
                                (cz + 0.17, deck - 0.03)]), (Z, Y), B * 0.62 - 0.02, r=0.01)
        parts += [hull, cabin]
        if d.chance("hardtop", 0.4, False):
            parts += [_box((0, deck + ch + 0.06, cz - 0.1), (B * 0.6, 0.035, 0.22), r=0.01),
                      _box((B * 0.24, deck + ch + 0.025, cz - 0.14), (0.035, 0.08, 0.035)).fold(X)]
        if d.chance("outboard", 0.5, True):
            parts += [_box((0, Hd * 0.75, -0.51), (0.08, 0.12, 0.08), r=0.015),
                      _box((0, Hd * 0.3, -0.53), (0.04, 0.14, 0.045))]
        return _group(parts)
    if style == "sailboat":
        B = d.uniform("beam", 0.26, 0.34, 0.3)
        Hd = d.uniform("hull_depth", 0.1, 0.13, 0.11)
        mast = d.uniform("mast_height", 0.45, 0.6, 0.55)
        zm = d.uniform("mast_position", 0.05, 0.18, 0.12)
        jib = d.chance("jib", 0.7, True)
        hull = _hull(1.0, B, Hd, 0.03, False, d.uniform("bow_power", 1.6, 2.4, 2.0), 0.35)
        deck = Hd + 0.01
        top = deck + mast
        parts += [hull, _box((0, deck + 0.03, -0.08), (B * 0.5, 0.07, 0.3), r=0.02),
                  _cyl((0, (deck - 0.03 + top) / 2, zm), 0.022, top - deck + 0.03),
                  _cyl((0, deck + 0.09, (zm - 0.36) / 2), 0.02, zm + 0.36, axis=Z),
                  _extrude(_poly([(zm - 0.01, deck + 0.09), (zm - 0.01, top - 0.02), (-0.34, deck + 0.09)]),
                           (Z, Y), 0.036)]
        if jib:
            jib_sail = _poly([(zm + 0.01, top - 0.08), (zm + 0.01, deck + 0.05), (0.44, deck + 0.05)])
            parts.append(_extrude(jib_sail, (Z, Y), 0.036))
        return _group(parts)
    if style == "ship":
        B = d.uniform("beam", 0.14, 0.2, 0.17)
        Hd = d.uniform("hull_depth", 0.09, 0.12, 0.1)
        decks = d.integer("decks", 1, 3, 2)
        zs = d.uniform("superstructure_position", -0.25, 0.05, -0.1)
        funnels = d.integer("funnels", 0, 2, 1)
        hull = _hull(1.0, B, Hd, 0.02, False, d.uniform("bow_power", 1.3, 2.0, 1.6), 0.5)
        parts.append(hull)
        y, length, width = Hd, 0.34, B * 0.75
        for _ in range(decks):
            parts.append(_box((0, y + 0.025, zs), (width, 0.06, length), r=0.008))
            y, length, width = y + 0.05, length * 0.7, width * 0.85
        parts.append(_box((0, y + 0.03, zs + 0.03), (B * 0.85, 0.04, 0.07), r=0.008))  # bridge
        for k in range(funnels):
            zf = zs - 0.08 - 0.09 * k
            parts.append(_cone((0, Hd + 0.02, zf), (0, y + 0.09, zf - 0.03), 0.03, 0.026))
        parts.append(_cyl((0, (y + y + 0.16) / 2, zs + 0.08), 0.02, 0.16))
        return _group(parts)
    # canoe (open, with thwarts) or kayak (decked, with a cockpit)
    B = d.uniform("beam", 0.13, 0.18, 0.15)
    Hd = d.uniform("hull_depth", 0.07, 0.09, 0.08)
    sheer = d.uniform("end_rise", 0.02, 0.05, 0.035)
    hull = _hull(1.0, B, Hd, sheer, True, d.uniform("end_power", 1.6, 2.4, 2.0), 0.45)
    hull = hull | _capsule((0, Hd * 0.7, 0.47), (0, Hd + sheer - 0.02, 0.48), 0.02).fold(Z)  # stems
    if d.choice("kind", ("canoe", "kayak"), "canoe") == "canoe":
        wall = 0.035
        inner = _hull(1.0 - 0.14, B - 2 * wall, Hd, sheer + 0.2, True, 2.0, 0.45)
        parts += [hull - inner.translate((0, wall * 0.8, 0)),
                  _box((0, Hd - 0.02, 0.18), (B - 0.02, 0.03, 0.04)).fold(Z),  # thwarts
                  _box((0, Hd * 0.55, 0.32), (B * 0.7, 0.03, 0.05)).fold(Z)]  # seats
    else:
        cockpit = _ellipsoid((0, Hd + 0.02, -0.02), (B * 0.32, 0.05, 0.13))
        parts += [hull - cockpit, _torus((0, Hd + 0.005, -0.02), B * 0.3, 0.012)]
    return _group(parts)

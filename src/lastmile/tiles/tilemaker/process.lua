-- How lastmile's offline basemap is cut from an OpenStreetMap extract by tilemaker
-- (`lastmile tiles build`): what a dispatcher or a customer needs to recognise a street —
-- roads with their names, house numbers, water, green areas, buildings and place names.
-- Layer and attribute names are read by src/lastmile/web/static/common/basemap.js.

node_keys = { "addr:housenumber", "place" }

-- Road classes, the zoom from which they appear, and the zoom from which they are named.
local ROADS = {
  motorway = { "main", 8 }, trunk = { "main", 8 }, primary = { "main", 9 },
  motorway_link = { "main", 11 }, trunk_link = { "main", 11 }, primary_link = { "main", 11 },
  secondary = { "secondary", 10 }, secondary_link = { "secondary", 12 },
  tertiary = { "secondary", 11 }, tertiary_link = { "secondary", 12 },
  residential = { "minor", 12 }, unclassified = { "minor", 12 }, living_street = { "minor", 13 },
  service = { "service", 14 }, pedestrian = { "path", 13 }, track = { "path", 14 },
  footway = { "path", 14 }, cycleway = { "path", 14 }, path = { "path", 14 }, steps = { "path", 14 },
}
local PLACES = { city = 8, town = 9, village = 11, suburb = 12, hamlet = 13, neighbourhood = 14 }
local GREEN = { park = "park", garden = "park", playground = "park", recreation_ground = "park",
  forest = "wood", wood = "wood", grass = "grass", meadow = "grass", village_green = "grass",
  cemetery = "grass", pitch = "park" }

function node_function(node)
  local number = node:Find("addr:housenumber")
  if number ~= "" then
    node:Layer("housenumber", false)
    node:Attribute("number", number)
  end
  local place = node:Find("place")
  local name = node:Find("name")
  if PLACES[place] and name ~= "" then
    node:Layer("place", false)
    node:Attribute("class", place)
    node:Attribute("name", name)
    node:MinZoom(PLACES[place])
  end
end

function way_function(way)
  local highway = way:Find("highway")
  local road = ROADS[highway]
  if road then
    way:Layer("road", false)
    way:Attribute("class", road[1])
    way:MinZoom(road[2])
    local name = way:Find("name")
    if name ~= "" then way:Attribute("name", name) end
    local oneway = way:Find("oneway")
    if oneway == "yes" or oneway == "1" then way:AttributeNumeric("oneway", 1) end
  end

  local waterway = way:Find("waterway")
  if waterway == "river" or waterway == "stream" or waterway == "canal" then
    way:Layer("waterway", false)
    way:Attribute("class", waterway)
  end

  if way:IsClosed() then
    local natural = way:Find("natural")
    local landuse = way:Find("landuse")
    local leisure = way:Find("leisure")
    if natural == "water" or landuse == "reservoir" or landuse == "basin" or waterway == "riverbank" then
      way:Layer("water", true)
    end
    local green = GREEN[leisure] or GREEN[landuse] or GREEN[natural]
    if green then
      way:Layer("landcover", true)
      way:Attribute("class", green)
    end
    if way:Find("building") ~= "" then
      way:Layer("building", true)
      local number = way:Find("addr:housenumber")
      if number ~= "" then
        way:LayerAsCentroid("housenumber")
        way:Attribute("number", number)
      end
    end
  end
end

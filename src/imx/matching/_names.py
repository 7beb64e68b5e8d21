"""Name and street lists for the synthetic population (invented mix, most frequent first)."""

from __future__ import annotations

MALE = tuple("""James Robert John Michael David William Richard Joseph Thomas Charles Christopher
Daniel Matthew Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy
Ronald Edward Jason Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin Scott
Brandon Benjamin Samuel Gregory Alexander Frank Patrick Raymond Jack Dennis Jerry Tyler Aaron
José Adam Nathan Henry Douglas Zachary Peter Kyle Ethan Walter Noah Jeremy Christian Keith Roger
Terry Gerald Harold Sean Austin Carl Arthur Lawrence Dylan Jesse Jordan Bryan Billy Joe Bruce
Gabriel Logan Albert Willie Alan Juan Wayne Elijah Randy Roy Vincent Ralph Eugene Russell Bobby
Mason Philip Louis Miguel Luis Carlos Jorge Alejandro Francisco Javier Rafael Ángel Andrés
Hiroshi Kenji Wei Jian Raj Arjun Mohammed Omar Ahmed Tariq Dmitri Sergei Lars Søren Björn
François Jürgen Zoltán Chinedu Kwame Tuan Minh Jae-won Sung""".split())

FEMALE = tuple("""Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa
Nancy Betty Margaret Sandra Ashley Kimberly Emily Donna Michelle Carol Amanda Dorothy Melissa
Deborah Stephanie Rebecca Sharon Laura Cynthia Kathleen Amy Angela Shirley Anna Brenda Pamela
Emma Nicole Helen Samantha Katherine Christine Debra Rachel Carolyn Janet Catherine Maria
Heather Diane Ruth Julie Olivia Joyce Virginia Victoria Kelly Lauren Christina Joan Evelyn
Judith Megan Andrea Cheryl Hannah Jacqueline Martha Gloria Teresa Ann Sara Madison Frances
Kathryn Janice Jean Abigail Alice Judy Sophia Grace Denise Amber Doris Marilyn Danielle Beverly
Isabella Theresa Diana Natalie Brittany Charlotte Marie Kayla Alexis Lori Sofía María
Lucía Valentina Guadalupe Mónica Inés Yuki Mei Priya Ananya Fatima Aisha Leila Svetlana Ingrid
Zoë Chloé Renée Céline Ngozi Amara Linh Ji-woo Siobhán""".split())

FAMILY = tuple("""Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez
Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson
White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres
Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez
Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook
Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward
Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo
Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman
Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton
Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina
Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington
Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter
Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Muñoz Hunt Hicks Holmes Palmer Wagner Black
Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt García Peña Núñez Ibáñez
O'Brien O'Connor McCarthy D'Angelo Müller Schröder Kowalski Nowak Wiśniewski Novák Dvořák
Yamamoto Tanaka Suzuki Watanabe Wang Zhang Liu Huang Zhao Park Choi Singh Kumar Sharma Gupta
Khan Ali Hussein Haddad Ivanov Petrov Smirnov Johansson Andersson Nielsen Okafor Mensah Pham
Le Vo Dang St-Pierre Van der Berg De la Cruz""".split())

STREETS = tuple("""Main Oak Maple Cedar Pine Elm Washington Lake Hill Park View Sunset Lincoln
Jackson Church River Highland Forest Meadow Spring Ridge Walnut Chestnut Willow Franklin Adams
Jefferson Madison Center Mill Union Prospect Broad Market Liberty Valley Grove Bridge Summit
Dogwood Magnolia Birch Cherry Holly Laurel Sycamore Hickory Aspen Poplar""".split())

STREET_TYPES = ("Street", "Avenue", "Road", "Drive", "Lane", "Court", "Boulevard", "Place", "Way")

CITIES = (("Springfield", "IL"), ("Riverside", "CA"), ("Franklin", "TN"), ("Greenville", "SC"),
          ("Fairview", "TX"), ("Madison", "WI"), ("Georgetown", "KY"), ("Salem", "OR"),
          ("Clinton", "NY"), ("Arlington", "VA"), ("Ashland", "OH"), ("Burlington", "VT"),
          ("Dover", "DE"), ("Marion", "IN"), ("Oxford", "MS"), ("Jackson", "MI"))

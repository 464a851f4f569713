-- The RFM rule table: which named segment each (r_score, fm_score) cell belongs to.
-- Grain: one row per rectangle of the 5 x 5 grid. Key: (r_min, fm_min).
-- fm_score is the rounded mean of f_score and m_score. The rectangles cover the grid exactly
-- once (a test checks it). Edit here to change the rules; the README documents the grid:
--
--            fm=1            fm=2            fm=3            fm=4            fm=5
--   r=5  New Customers   Potential L.    Potential L.    Champions       Champions
--   r=4  Promising       Potential L.    Potential L.    Loyal Cust.     Loyal Cust.
--   r=3  About to Sleep  About to Sleep  Need Attention  Loyal Cust.     Loyal Cust.
--   r=2  Hibernating     Hibernating     At Risk         At Risk         Cannot Lose Them
--   r=1  Lost            Hibernating     At Risk         At Risk         Cannot Lose Them
with

rules (rfm_segment, r_min, r_max, fm_min, fm_max, description, action) as (
    values
    ('Champions', 5, 5, 4, 5,
        'Bought recently, buy often and spend the most.',
        'Reward them: early access, new products, ask for reviews.'),
    ('Loyal Customers', 3, 4, 4, 5,
        'Buy often and spend well, a little less recently than champions.',
        'Upsell higher-value products; a loyalty programme.'),
    ('Potential Loyalists', 4, 5, 2, 3,
        'Recent customers with average frequency and spend.',
        'Offer membership or a second-purchase incentive.'),
    ('New Customers', 5, 5, 1, 1,
        'Bought very recently, but only once or for little.',
        'Onboarding: a welcome series, help them get value early.'),
    ('Promising', 4, 4, 1, 1,
        'Recent shoppers who have not bought much yet.',
        'Build the relationship: recommendations, a small first-repeat offer.'),
    ('Need Attention', 3, 3, 3, 3,
        'Average recency, frequency and spend.',
        'Limited-time offers based on past purchases before they slip.'),
    ('About to Sleep', 3, 3, 1, 2,
        'Below-average recency and frequency; will be lost without a nudge.',
        'Share popular products, a reactivation discount.'),
    ('At Risk', 1, 2, 3, 4,
        'Used to buy often and spend well, but not for a long time.',
        'Personal win-back emails, renewals, helpful resources.'),
    ('Cannot Lose Them', 1, 2, 5, 5,
        'Made the biggest and most frequent purchases, but long ago.',
        'Win them back with the best offers; ask what went wrong.'),
    ('Hibernating', 2, 2, 1, 2,
        'Last bought long ago, few orders, low spend.',
        'Offer relevant products and special discounts; recreate interest.'),
    ('Hibernating', 1, 1, 2, 2,
        'Last bought long ago, few orders, low spend.',
        'Offer relevant products and special discounts; recreate interest.'),
    ('Lost', 1, 1, 1, 1,
        'Lowest recency, frequency and spend.',
        'Revive interest with a broad campaign; otherwise do not spend on them.')
),

final as (
    select
        rfm_segment,
        cast(r_min as tinyint) as r_min,
        cast(r_max as tinyint) as r_max,
        cast(fm_min as tinyint) as fm_min,
        cast(fm_max as tinyint) as fm_max,
        description,
        action
    from rules
)

select * from final
